"""Keeping an item's MIME in step with attachments added or removed one at a time.

The simulator keeps MIME as an item's canonical content (GetItem serves it), so CreateAttachment and
DeleteAttachment rewrite it: the message becomes multipart/mixed when needed and gains (or loses) one
part per file attachment. Exchange regenerates MIME from its properties in the same way.
"""

from __future__ import annotations

import hashlib
from email import message_from_bytes, policy
from email.message import EmailMessage

from router.simulator.model import Attachment, Item


def _parse(raw: bytes) -> EmailMessage:
    msg = message_from_bytes(raw, policy=policy.SMTP)
    assert isinstance(msg, EmailMessage)
    return msg


def attachments_of(item: Item) -> list[Attachment]:
    """The item's file attachments; for mail that arrived as MIME they are read from it once, with
    ids derived from the item's (stable across requests), so GetItem lists them and GetAttachment
    finds them as Exchange's do."""
    if item.attachments or item.attachments_read or not item.has_attachments:
        return item.attachments
    found: list[Attachment] = []
    for number, part in enumerate(_parse(item.mime).iter_attachments()):
        content = part.get_payload(decode=True)
        if not isinstance(content, bytes):
            continue
        uid = hashlib.md5(item.uid + number.to_bytes(2, "big"), usedforsecurity=False).digest()
        cid = part.get("Content-ID")
        found.append(Attachment(uid, part.get_filename() or "attachment", part.get_content_type(), content,
                                cid.strip("<>") if cid else None,
                                part.get_content_disposition() == "inline"))
    item.attachments = found
    item.attachments_read = True
    return found


def with_attachment(raw: bytes, att: Attachment) -> bytes:
    """``raw`` with ``att`` added as a file (or inline) part."""
    msg = _parse(raw)
    maintype, _, subtype = (att.content_type or "application/octet-stream").partition("/")
    msg.add_attachment(att.content, maintype=maintype, subtype=subtype or "octet-stream",
                       filename=att.name, disposition="inline" if att.is_inline else "attachment",
                       cid=f"<{att.content_id}>" if att.content_id else None)
    return msg.as_bytes()


def without_attachment(raw: bytes, att: Attachment) -> bytes:
    """``raw`` without the part holding ``att`` (matched by file name and content)."""
    msg = _parse(raw)
    if not msg.is_multipart():
        return raw
    payload = msg.get_payload()
    assert isinstance(payload, list)
    for part in payload:
        if not isinstance(part, EmailMessage):
            continue
        if part.get_filename() == att.name and part.get_payload(decode=True) == att.content:
            payload.remove(part)
            break
    return msg.as_bytes()

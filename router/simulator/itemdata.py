"""Reading a client's t:Message into MIME and item properties (CreateItem, UpdateItem SetItemField)."""

from __future__ import annotations

import base64
import binascii
import uuid
from dataclasses import dataclass, field

from router.simulator import mime
from router.simulator.model import Address, Attachment, ExtendedKey, Flag
from router.simulator.paths import parse_path
from router.simulator.xml import Element, child, children, local, pdate, strings, text_of, xbool


class ItemDataError(ValueError):
    """The client's item data cannot be stored (bad base64, bad value)."""


def parse_mailbox(el: Element | None) -> Address | None:
    """Read a t:Mailbox (EmailAddressType)."""
    if el is None:
        return None
    email = text_of(el, "EmailAddress")
    if not email:
        return None
    return Address(email, text_of(el, "Name", "") or "")


def parse_mailboxes(el: Element | None) -> list[Address]:
    return [a for a in (parse_mailbox(c) for c in children(el, "Mailbox")) if a is not None]


def single(el: Element | None, name: str) -> Address | None:
    return parse_mailbox(child(child(el, name), "Mailbox"))


@dataclass
class ItemData:
    """What a t:Message element says: the MIME to store and the properties to set on top of it."""

    mime: bytes
    props: dict[str, object] = field(default_factory=dict)
    extended: dict[ExtendedKey, str | list[str]] = field(default_factory=dict)
    attachments: list[Attachment] = field(default_factory=list)


def parse_extended(el: Element) -> tuple[ExtendedKey, str | list[str]]:
    uri = child(el, "ExtendedFieldURI")
    key = parse_path(uri) if uri is not None else None
    if not isinstance(key, ExtendedKey):
        raise ItemDataError("ExtendedProperty without an ExtendedFieldURI")
    values = child(el, "Values")
    if values is not None:
        return key, [(v.text or "") for v in children(values, "Value")]
    return key, text_of(el, "Value", "") or ""


def scalar_props(msg: Element) -> dict[str, object]:
    """The settable scalar properties present on ``msg``."""
    props: dict[str, object] = {}
    for name, attr, conv in (
        ("IsRead", "is_read", xbool),
        ("Importance", "importance", str),
        ("Sensitivity", "sensitivity", str),
        ("ItemClass", "item_class", str),
    ):
        value = text_of(msg, name)
        if value is not None:
            props[attr] = conv(value)
    cats = child(msg, "Categories")
    if cats is not None:
        props["categories"] = strings(cats)
    flag = child(msg, "Flag")
    if flag is not None:
        props["flag"] = Flag(
            text_of(flag, "FlagStatus", "NotFlagged") or "NotFlagged",
            *(
                pdate(v) if (v := text_of(flag, n)) else None
                for n in ("StartDate", "DueDate", "CompleteDate")
            ),
        )
    return props


def _attachments(msg: Element) -> list[Attachment]:
    out = []
    for fa in children(child(msg, "Attachments"), "FileAttachment"):
        try:
            content = base64.b64decode(text_of(fa, "Content", "") or "", validate=False)
        except binascii.Error as exc:
            raise ItemDataError("FileAttachment Content is not valid base64") from exc
        out.append(
            Attachment(
                uuid.uuid4().bytes,
                text_of(fa, "Name", "attachment") or "attachment",
                text_of(fa, "ContentType", "application/octet-stream") or "application/octet-stream",
                content,
                text_of(fa, "ContentId"),
                xbool(text_of(fa, "IsInline")),
            )
        )
    return out


def parse_message(msg: Element, *, date_source: object) -> ItemData:
    """Turn a t:Message into MIME (from MimeContent, else built from the fields) plus properties."""
    from datetime import datetime

    assert isinstance(date_source, datetime)
    attachments = _attachments(msg)
    mime_text = text_of(msg, "MimeContent")
    if mime_text:
        try:
            raw = base64.b64decode(mime_text, validate=False)
        except binascii.Error as exc:
            raise ItemDataError("MimeContent is not valid base64") from exc
    else:
        body = child(msg, "Body")
        draft = mime.Draft(
            subject=text_of(msg, "Subject", "") or "",
            body=(body.text or "") if body is not None else "",
            body_type=body.get("BodyType", "Text") if body is not None else "Text",
            from_=single(msg, "From"),
            to=parse_mailboxes(child(msg, "ToRecipients")),
            cc=parse_mailboxes(child(msg, "CcRecipients")),
            bcc=parse_mailboxes(child(msg, "BccRecipients")),
            reply_to=parse_mailboxes(child(msg, "ReplyTo")),
            message_id=text_of(msg, "InternetMessageId"),
            in_reply_to=text_of(msg, "InReplyTo"),
            references=text_of(msg, "References"),
            importance=text_of(msg, "Importance", "Normal") or "Normal",
            attachments=[(a.name, a.content_type, a.content) for a in attachments],
        )
        raw = mime.build(draft, date=date_source)
    data = ItemData(raw, scalar_props(msg), attachments=attachments)
    from_ = single(msg, "From")
    if mime_text and from_ is not None:
        data.mime = mime.edit_headers(raw, set_=[("From", mime.format_address(from_))])
    bcc = parse_mailboxes(child(msg, "BccRecipients"))
    if mime_text and bcc:
        # Properties given next to MimeContent are applied on top of it, as Exchange does: Bcc
        # recipients passed this way keep the MIME itself free of a Bcc header until submission.
        data.mime = mime.edit_headers(data.mime, set_=[("Bcc", mime.format_addresses(bcc))])
    for ext in children(msg, "ExtendedProperty"):
        key, value = parse_extended(ext)
        data.extended[key] = value
    if attachments:
        data.props["has_attachments"] = True
    return data


def element_names(msg: Element) -> list[str]:
    return [local(c) for c in children(msg)]

"""Compose the neutral ``OutgoingMessage`` from a CRM email claimed for sending.

The CRM has decided everything already (recipients, subject with its tracking token, body); this step
only translates its shapes: activity parties become addresses with display names, attachments keep
their type and content id, the priority code becomes a priority, and a reply gets its parent's
threading headers. From is the lane's mailbox: the message is submitted through that mailbox, so it is
the address Exchange checks the account's Send As / Send On Behalf right against.
"""

from __future__ import annotations

import base64
import re
from datetime import datetime

from router.crm.gateway import Attachment as CrmAttachment
from router.crm.gateway import OutgoingEmail, Party
from router.pipeline.outgoing.addresses import MailAddress
from router.pipeline.outgoing.message import Attachment, OutgoingMessage, ParentEmail, Priority

_HEX = re.compile(r"(?:[0-9A-Fa-f]{2})+")


def compose(email: OutgoingEmail, *, sender: MailAddress, message_id: str, date: datetime) -> OutgoingMessage:
    """Return the message to render for ``email``, sent by ``sender`` with our ``message_id`` at ``date``."""
    return OutgoingMessage(
        message_id=message_id,
        sender=sender,
        subject=email.subject,
        html_body=email.body_html,
        date=date,
        to=[_address(p) for p in email.to],
        cc=[_address(p) for p in email.cc],
        bcc=[_address(p) for p in email.bcc],
        attachments=[_attachment(a) for a in email.attachments],
        parent=_parent(email),
        priority=Priority.from_crm(int(email.importance)),
        activity_id=email.email_id,
    )


def sender_address(email: OutgoingEmail, mailbox: str, mailbox_name: str) -> MailAddress:
    """From: the lane's mailbox, named as the CRM names the sending user or queue."""
    record = email.sender.record
    return MailAddress(mailbox, (record.name if record and record.name else mailbox_name).strip())


def _address(party: Party) -> MailAddress:
    return MailAddress(party.address, party.record.name if party.record else "")


def _attachment(item: CrmAttachment) -> Attachment:
    return Attachment(item.filename, item.content, item.mime_type, item.content_id)


def _parent(email: OutgoingEmail) -> ParentEmail | None:
    """The email this one answers, from the threading values the CRM keeps on the parent."""
    if not email.in_reply_to:
        return None
    own = email.in_reply_to.strip()
    earlier = tuple(ref for ref in email.references if ref.strip() and ref.strip() != own)
    return ParentEmail(own, earlier, thread_index=thread_index_value(email.parent_conversation_index))


def thread_index_value(stored: str | None) -> str | None:
    """Return a CRM ``conversationindex`` (hex, as the embedded CRM keeps it, or base64) as a Thread-Index.

    Every conversation index starts with the byte 0x01 (see ``thread_index``), so hex starts with
    "01" while base64 starts with "AQ"; a value that is neither is passed on as it is, and rendering
    repairs an unusable parent index by starting a new conversation (it says so in its warnings).
    """
    text = (stored or "").strip()
    if not text:
        return None
    if _HEX.fullmatch(text) and text.startswith("01"):
        return base64.b64encode(bytes.fromhex(text)).decode("ascii")
    return text

"""The parameters of CheckIncomingEmail / DeliverIncomingEmail in their wire form, shared by both gateways.

``IncomingMessage`` is what the Web API carries: address lists as ``;``-separated strings, the
Message-ID the CRM will key on, and the two e-mail columns passed through ``ExtraProperties``
(``inreplyto``, ``conversationindex``). The embedded gateway and the Dynamics adapter both build it with
``incoming_message`` so the embedded CRM sees exactly what a real CRM would receive.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from router.crm.addresses import header_addresses, normalize, to_wire
from router.crm.codes import Importance
from router.crm.gateway import Attachment, IncomingEmail


@dataclass(frozen=True, kw_only=True)
class IncomingMessage:
    """One incoming message as CheckIncomingEmail / DeliverIncomingEmail parameters."""

    message_id: str
    subject: str
    sender: str
    to: str
    cc: str
    bcc: str
    received_on: datetime
    submitted_by: str = ""
    importance: Importance = Importance.NORMAL
    body: str = ""
    attachments: tuple[Attachment, ...] = ()
    in_reply_to: str | None = None
    conversation_index: str | None = None


def incoming_message(email: IncomingEmail) -> IncomingMessage:
    """Return the wire parameters for ``email``, naming the receiving mailbox as Bcc when no header does."""
    named = {normalize(a) for a in header_addresses([*email.to, *email.cc, *email.bcc])}
    bcc = list(email.bcc)
    if email.receiving_address and normalize(email.receiving_address) not in named:
        bcc.append(email.receiving_address)
    sender = to_wire([email.sender])
    return IncomingMessage(
        message_id=email.crm_message_id,
        subject=email.subject,
        sender=sender,
        to=to_wire(email.to),
        cc=to_wire(email.cc),
        bcc=to_wire(bcc),
        received_on=email.received_on,
        submitted_by=to_wire([email.submitted_by]) if email.submitted_by else sender,
        importance=email.importance,
        body=email.body,
        attachments=email.attachments,
        in_reply_to=(email.in_reply_to or "").strip() or None,
        conversation_index=(email.conversation_index or "").strip() or None,
    )

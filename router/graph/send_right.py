"""Which send right a service mailbox actually holds on a user, asked of Exchange Online by a probe.

As on EWS (router/pipeline/outgoing/send_right.py), only Exchange's own decision counts: a small probe
From the user, To the service mailbox, is sent through ``sendMail`` on the service mailbox. Refused:
no right. Accepted: the delivered copy's Sender says Send As (Sender = From) or Send On Behalf. The probe
leaves nothing behind: the delivered copy, the Sent Items copy and a refused draft are deleted.
"""

from __future__ import annotations

import uuid
from email.message import EmailMessage
from email.utils import format_datetime

from router.clock import Clock
from router.errors import SendAsDeniedError
from router.graph.mailbox import GraphMailbox

PROBE_SUBJECT = "email-router: send right probe (delete me)"
SEND_AS = "SendAs"
SEND_ON_BEHALF = "SendOnBehalf"
NONE = "None"
UNKNOWN = "Unknown"


def _probe(service: str, principal: str, message_id: str, clock: Clock) -> bytes:
    msg = EmailMessage()
    msg["From"] = principal
    msg["To"] = service
    msg["Subject"] = PROBE_SUBJECT
    msg["Message-ID"] = message_id
    msg["Date"] = format_datetime(clock.now())
    msg.set_content("A probe of the send right held on this mailbox. It deletes itself.")
    return msg.as_bytes()


def detect_send_right(
    service: GraphMailbox, principal: str, *, clock: Clock, attempts: int = 10, poll_seconds: float = 1.0
) -> str:
    """SEND_AS, SEND_ON_BEHALF, NONE, or UNKNOWN when the accepted probe did not arrive in time."""
    if service.address.lower() == principal.lower():
        return SEND_AS
    message_id = f"<probe.{uuid.uuid4().hex}@email-router>"
    try:
        service.send_mime(_probe(service.address, principal, message_id, clock))
    except SendAsDeniedError:
        _clean(service, message_id, ("drafts",))
        return NONE
    for _ in range(attempts):
        found = service.find(message_id, "inbox")
        if found:
            _clean(service, message_id, ("inbox", "sentitems"))
            return SEND_AS if _sender(found[0]) == _sender(found[0], "from") else SEND_ON_BEHALF
        clock.sleep(poll_seconds)
    return UNKNOWN


def _sender(entry: dict[str, object], key: str = "sender") -> str:
    value = entry.get(key)
    if isinstance(value, dict) and isinstance(value.get("emailAddress"), dict):
        return str(value["emailAddress"].get("address", "")).lower()
    return ""


def _clean(service: GraphMailbox, message_id: str, folders: tuple[str, ...]) -> None:
    for folder in folders:
        for entry in service.find(message_id, folder):
            service.delete(str(entry["id"]))

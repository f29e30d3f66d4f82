"""The round-trip probe of `email-router test-access --probe`: out through one profile, in through the other.

``round_trip`` submits a short message From and To the mailbox through its outgoing profile's account
(saved in its Sent Items, as the router sends) and waits for it in the Inbox through its incoming
profile's account: the whole path a reply to the mailbox takes, timed. The copy that arrives also shows
what Exchange stamped: a Sender other than From means it went out "on behalf of".

Probes carry the router's loop header, ``Auto-Submitted: auto-generated`` and ``X-Auto-Response-Suppress:
All``, so a running router screens them out and no one auto-replies to them; every copy the probe
leaves is deleted (best effort: a copy that cannot be deleted stays screened out).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime
from typing import Any

from exchangelib import Message

from router.clock import Clock
from router.errors import RouterError
from router.ews.errors import ews_errors
from router.pipeline.headers import LOOP_HEADER
from router.pipeline.incoming.screening import loop_header_value
from router.pipeline.outgoing.message_id import new_message_id
from router.pipeline.outgoing.send_right import SendRight

log = logging.getLogger(__name__)

PROBE_SUBJECT = "email-router Test Access probe"
_POLICY = SMTP.clone(max_line_length=998)


def probe_message(mailbox: str, loop_identity: str, clock: Clock) -> tuple[str, bytes]:
    """A probe From and To ``mailbox``: its Message-ID and MIME bytes."""
    message_id = new_message_id(mailbox.rsplit("@", 1)[-1])
    message = EmailMessage(policy=_POLICY)
    message["From"] = mailbox
    message["To"] = mailbox
    message["Subject"] = f"{PROBE_SUBJECT} {message_id.strip('<>').split('@')[0][:8]}"
    message["Message-ID"] = message_id
    message["Date"] = format_datetime(clock.now())
    message["Auto-Submitted"] = "auto-generated"
    message["X-Auto-Response-Suppress"] = "All"
    message[LOOP_HEADER] = loop_header_value(loop_identity)
    message.set_content("email-router checked that it can send and receive mail for this mailbox. "
                        "This message deletes itself; if you see it, you may delete it.\n")
    return message_id, message.as_bytes()


def submit(account: Any, mailbox: str, raw: bytes) -> None:
    """Send ``raw`` through ``account`` (opened on ``mailbox``), saving the copy in its Sent Items."""
    with ews_errors(mailbox=mailbox):
        Message(account=account, folder=account.sent, mime_content=raw).send_and_save()


def find(folder: Any, mailbox: str, message_id: str) -> list[Any]:
    """Items of ``folder`` with this Message-ID, with their From and Sender."""
    with ews_errors(mailbox=mailbox):
        return list(folder.filter(message_id=message_id).only("author", "sender", "message_id"))


def remove(folders: list[Any], mailbox: str, message_id: str) -> None:
    """Delete every copy of the probe in ``folders``; failures are logged, not raised."""
    for folder in folders:
        try:
            for item in find(folder, mailbox, message_id):
                with ews_errors(mailbox=mailbox):
                    item.delete()
        except RouterError as exc:
            log.warning("a Test Access probe %s could not be deleted from %s: %s", message_id, mailbox, exc,
                        extra={"mailbox": mailbox})


def right_of(item: Any) -> SendRight:
    """Send As when the item's Sender is its From (or absent), else Send On Behalf."""
    author = (item.author.email_address or "").lower() if item.author else ""
    sender = (item.sender.email_address or "").lower() if item.sender else author
    return SendRight.SEND_AS if sender == author else SendRight.SEND_ON_BEHALF


@dataclass(frozen=True)
class RoundTrip:
    """A round-trip probe: whether it arrived, how long it took, and with which right it was sent."""

    arrived: bool
    seconds: float
    right: SendRight | None
    message: str


def round_trip(outgoing: Any, incoming: Any, mailbox: str, *, loop_identity: str, clock: Clock,
               timeout: float, poll: float = 1.0) -> RoundTrip:
    """Send a probe with ``outgoing`` and wait up to ``timeout`` seconds for it in ``incoming``'s Inbox.

    Errors while sending or reading are router errors; a probe that does not arrive in time is a value.
    """
    message_id, raw = probe_message(mailbox, loop_identity, clock)
    started = clock.monotonic()
    try:
        submit(outgoing, mailbox, raw)
        while True:
            arrived = find(incoming.inbox, mailbox, message_id)
            elapsed = clock.monotonic() - started
            if arrived:
                right = right_of(arrived[0])
                return RoundTrip(True, elapsed, right, f"arrived in the Inbox after {elapsed:.1f} s")
            if elapsed >= timeout:
                return RoundTrip(False, elapsed, None, f"did not arrive in the Inbox within {timeout:g} s")
            clock.sleep(poll)
    finally:
        remove([incoming.inbox], mailbox, message_id)
        remove([outgoing.sent], mailbox, message_id)

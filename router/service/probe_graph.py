"""The round-trip probe of `email-router test-access --probe` over Microsoft Graph.

What ``router.service.probe`` does over EWS, done with Graph calls: the same probe (From and To the
mailbox, the router's loop header, ``Auto-Submitted``) is sent by ``sendMail`` with its MIME on the
outgoing profile's sending mailbox (the user's own, or the profile's service mailbox with From = the
user, so Exchange decides Send As / Send On Behalf as for real mail), then looked for by its Message-ID
in the incoming profile's mailbox's Inbox (``$filter`` on ``internetMessageId``) until it arrives or the
timeout passes. The copy that arrives shows the right Exchange used (a Sender other than From: on
behalf). Every copy is deleted afterwards: the arrived one, and the one Exchange saved in the calling
mailbox's Sent Items (the service mailbox's, in service-mailbox mode).
"""

from __future__ import annotations

import logging

from router.clock import Clock
from router.errors import RouterError
from router.graph.mailbox import GraphMailbox
from router.pipeline.outgoing.send_right import SendRight
from router.service.probe import RoundTrip, probe_message

log = logging.getLogger(__name__)


def graph_round_trip(outgoing: GraphMailbox, incoming: GraphMailbox, mailbox: str, *, loop_identity: str,
                     clock: Clock, timeout: float, poll: float = 1.0) -> RoundTrip:
    """Send a probe through ``outgoing`` and wait up to ``timeout`` seconds for it in ``incoming``'s Inbox.

    Errors while sending or reading are router errors; a probe that does not arrive in time is a value.
    """
    message_id, raw = probe_message(mailbox, loop_identity, clock)
    started = clock.monotonic()
    try:
        outgoing.send_mime(raw)
        while True:
            arrived = incoming.find(message_id, "inbox")
            elapsed = clock.monotonic() - started
            if arrived:
                return RoundTrip(True, elapsed, right_of(arrived[0]),
                                 f"arrived in the Inbox after {elapsed:.1f} s")
            if elapsed >= timeout:
                return RoundTrip(False, elapsed, None, f"did not arrive in the Inbox within {timeout:g} s")
            clock.sleep(poll)
    finally:
        remove(incoming, "inbox", message_id)
        remove(outgoing, "sentitems", message_id)


def right_of(entry: dict[str, object]) -> SendRight:
    """Send As when the message's sender is its from (or absent), else Send On Behalf."""
    author = _address(entry, "from")
    sender = _address(entry, "sender") or author
    return SendRight.SEND_AS if sender == author else SendRight.SEND_ON_BEHALF


def _address(entry: dict[str, object], key: str) -> str:
    value = entry.get(key)
    if isinstance(value, dict) and isinstance(value.get("emailAddress"), dict):
        return str(value["emailAddress"].get("address", "")).lower()
    return ""


def remove(mailbox: GraphMailbox, folder: str, message_id: str) -> None:
    """Delete every copy of the probe in ``folder``; failures are logged, not raised."""
    try:
        for entry in mailbox.find(message_id, folder):
            mailbox.delete(str(entry["id"]))
    except RouterError as exc:
        log.warning("a Test Access probe %s could not be deleted from %s of %s: %s", message_id, folder,
                    mailbox.address, exc, extra={"mailbox": mailbox.address})

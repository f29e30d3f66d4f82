"""Recovery after a crash: never send twice, never leave a sent email unrecorded.

A send record left at RENDERED by a dead worker (or by a failed submission) means the email may have
reached Exchange: ``find_sent`` looks for our Message-ID in the mailbox's Sent Items, then its Outbox
(submitted, not yet gone), before anything is sent again. Found means sent: it is recorded without a
second submission.

A record left at SUBMITTED is known to have been sent, but the CRM may not know: ``finish_submitted``
takes such records over once their owner's lease has run out and marks the CRM email Sent again
(``mark_sent`` is idempotent), whatever state the CRM email is in by then.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from router.ews.errors import ews_errors
from router.mailbox.session import MailboxSession
from router.pipeline.outgoing.claim import SendClaimer
from router.pipeline.outgoing.record import Recorder
from router.state import SendRecords, SendStage

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SentCopy:
    """Where our Message-ID was found, and when Exchange says the message was sent (if it says)."""

    folder: str
    sent_on: datetime | None


def find_sent(account: Any, message_id: str, *, mailbox: str, item_id: str) -> SentCopy | None:
    """Return the copy of ``message_id`` in the mailbox's Sent Items or Outbox, or None.

    Over Graph (``account`` a transport's ``MailboxSession``) only Sent Items is asked: sendMail
    submits at once, so a message is never left waiting in the Outbox."""
    if isinstance(account, MailboxSession):
        return SentCopy("Sent Items", None) if account.find_sent(message_id) else None
    with ews_errors(mailbox=mailbox, item_id=item_id):
        for name, folder in (("Sent Items", account.sent), ("Outbox", account.outbox)):
            found = list(folder.filter(message_id=message_id).only("message_id", "datetime_sent")[:1])
            if found:
                return SentCopy(name, _plain(found[0].datetime_sent))
    return None


def _plain(value: datetime | None) -> datetime | None:
    """An aware UTC ``datetime`` for exchangelib's ``EWSDateTime`` (which other libraries cannot compare)."""
    return None if value is None else datetime.fromtimestamp(value.timestamp(), tz=UTC)


def finish_submitted(sends: SendRecords, claimer: SendClaimer, recorder: Recorder, mailbox: str) -> int:
    """Tell the CRM about the mailbox's emails a dead worker submitted but did not record; return how many."""
    finished = 0
    for record in sends.pending(mailbox):
        if record.stage is not SendStage.SUBMITTED:
            continue
        claim = sends.claim(mailbox, record.email_id, owner=claimer.owner, message_id=record.message_id)
        if not claim.acquired or claim.record.stage is not SendStage.SUBMITTED:
            continue
        log.info("email %s was submitted as %s before the router stopped; recording it as Sent",
                 record.email_id, record.message_id, extra={"mailbox": mailbox})
        recorder.sent(claim, claim.record.submitted_at or claim.record.updated_at)
        finished += 1
    return finished

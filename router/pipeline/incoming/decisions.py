"""Recording what happened to a message: decision trail rows and ledger steps, committed together.

Every write that moves a message forward is one transaction holding both the ledger step and the
trail rows that explain it, so ``email-router trace`` never shows a step the ledger does not know and
the ledger never holds a step without its reason. The stage names used in the trail:

* ``screen`` — ``accepted`` or ``skipped`` (reason code: the screening rule; see ``SkipReason``);
* ``size`` — ``stripped`` when the size policy removed attachments;
* ``unwrap`` — forward mailboxes: who forwarded the original;
* ``deliver`` — ``delivered``, ``duplicate`` (the activity existed: another mailbox's copy or an
  earlier item of this one; the text names the activity and how this copy differs), ``recovered``
  (an interrupted attempt of this item created the activity) or ``refused`` by CheckIncomingEmail
  (reason code: the CRM's ``ReasonCode``; the text says what the message shows), with the correlation
  method and the activity id;
* ``content`` — ``recorded``: the accepted message's fingerprint (``fingerprint``), which a later
  duplicate is compared with; ``changed``: every change the router made to the content
  (``content_changes``);
* ``acknowledge`` — what was done on the server (and, after a move, the item's new id and web link);
* ``quarantine`` — the stage that failed and why (see ``quarantine``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection

from router.state import Direction, LedgerClaim, StateStore, TrailRow


@dataclass(frozen=True)
class Note:
    """One trail row to write: stage, result, and the optional details."""

    stage: str
    result: str
    reason_code: str | None = None
    correlation_method: str | None = None
    activity_id: str | None = None
    text: str | None = None


@dataclass(frozen=True)
class Subject:
    """Which message of which mailbox the notes are about."""

    mailbox: str
    message_key: str
    internet_message_id: str | None
    item_id: str | None


@dataclass(frozen=True)
class Delivery:
    """A message the CRM holds as ``activity_id``, and the notes that say how it got there."""

    claim: LedgerClaim
    subject: Subject
    activity_id: str
    notes: Sequence[Note]


class Decisions:
    """Writes trail rows with the ledger step they explain, in one transaction."""

    def __init__(self, store: StateStore) -> None:
        self._store = store

    def delivered(self, claim: LedgerClaim, subject: Subject, activity_id: str,
                  notes: Sequence[Note]) -> None:
        """The CRM holds the message as ``activity_id``: record it before acknowledging on the server."""
        self.delivered_all([Delivery(claim, subject, activity_id, notes)])

    def delivered_all(self, done: Sequence[Delivery]) -> None:
        """Record messages the CRM holds (``delivered``), all in one transaction."""
        if not done:
            return
        with self._store.db.write() as tx:
            self._store.trail.record_many([row for r in done for row in _rows(r.subject, r.notes)], tx=tx)
            self._store.ledger.mark_delivered_all([(r.claim, r.activity_id) for r in done], tx=tx)

    def screened(self, claim: LedgerClaim, subject: Subject, notes: Sequence[Note]) -> None:
        """The message was kept away from the CRM (screening, a CRM refusal, or gone from the server)."""
        with self._store.db.write() as tx:
            self._write(subject, notes, tx)
            self._store.ledger.mark_screened(claim, tx=tx)

    def acknowledged(self, done: Sequence[tuple[LedgerClaim, Subject, Note, str | None]]) -> None:
        """Finish a batch of acknowledged messages in one transaction (``str``: the item id after a move)."""
        if not done:
            return
        with self._store.db.write() as tx:
            rows = [row for _, subject, note, _ in done for row in _rows(subject, [note])]
            self._store.trail.record_many(rows, tx=tx)
            moved = [(claim, new_item_id) for claim, _, _, new_item_id in done]
            self._store.ledger.mark_acknowledged_all(moved, tx=tx)

    def note(self, subject: Subject, notes: Sequence[Note]) -> None:
        """Record trail rows alone (a step that leaves the ledger where it is)."""
        with self._store.db.write() as tx:
            self._write(subject, notes, tx)

    def _write(self, subject: Subject, notes: Sequence[Note], tx: Connection) -> None:
        self._store.trail.record_many(_rows(subject, notes), tx=tx)


def _rows(subject: Subject, notes: Sequence[Note]) -> list[TrailRow]:
    """The trail rows of ``notes`` about ``subject``."""
    return [TrailRow(direction=Direction.INCOMING, mailbox=subject.mailbox, message_key=subject.message_key,
                     internet_message_id=subject.internet_message_id, item_id=subject.item_id,
                     stage=note.stage, result=note.result, reason_code=note.reason_code,
                     correlation_method=note.correlation_method, activity_id=note.activity_id,
                     text=note.text) for note in notes]

"""The quarantine: incoming messages that could not be processed, kept with their stage and reason.

A quarantined message is never retried by itself. An admin lists and inspects entries, then asks for
a retry (the entry turns RETRY and its ledger row is reopened in the same transaction, so the lane
picks it up) or resolves it (nothing more will be done). A message quarantined again after a retry
reuses its entry, keeping the count of retries.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Connection, Row, func, select, update

from router.clock import Clock
from router.errors import StateStoreError
from router.state.engine import Database
from router.state.keys import normalize_message_id
from router.state.ledger import IncomingLedger
from router.state.schema import quarantine as T


class QuarantineStatus(StrEnum):
    """OPEN waits for an admin, RETRY waits for the lane, RESOLVED is closed."""

    OPEN = "open"
    RETRY = "retry"
    RESOLVED = "resolved"


@dataclass(frozen=True)
class QuarantineEntry:
    """One quarantined message. ``mime`` holds the raw message, or ``mime_ref`` says where it is kept."""

    id: int
    mailbox: str
    message_key: str
    internet_message_id: str | None
    item_id: str | None
    stage: str
    reason_code: str
    reason: str
    mime: bytes | None
    mime_ref: str | None
    status: QuarantineStatus
    retry_count: int
    resolution: str | None
    created_at: datetime
    updated_at: datetime
    retry_requested_at: datetime | None
    resolved_at: datetime | None

    @classmethod
    def from_row(cls, row: Row[tuple[object, ...]]) -> QuarantineEntry:
        values = dict(row._mapping)
        values["status"] = QuarantineStatus(values["status"])
        return cls(**values)


class Quarantine:
    """Adds, lists, retries and resolves quarantined messages."""

    def __init__(self, db: Database, clock: Clock, ledger: IncomingLedger) -> None:
        self._db = db
        self._clock = clock
        self._ledger = ledger

    def add(self, *, mailbox: str, message_key: str, stage: str, reason_code: str, reason: str,
            item_id: str | None = None, internet_message_id: str | None = None, mime: bytes | None = None,
            mime_ref: str | None = None, tx: Connection | None = None) -> QuarantineEntry:
        """Quarantine a message (again); pass the ledger's ``tx`` so both commit together."""
        now = self._clock.now()
        values: dict[str, object] = dict(
            stage=stage, reason_code=reason_code, reason=reason, status=QuarantineStatus.OPEN.value,
            updated_at=now, resolution=None, resolved_at=None)
        optional = dict(item_id=item_id, internet_message_id=normalize_message_id(internet_message_id),
                        mime=mime, mime_ref=mime_ref)
        values.update({k: v for k, v in optional.items() if v is not None})
        with self._db.joined(tx) as conn:
            changed = conn.execute(update(T).where(T.c.mailbox == mailbox, T.c.message_key == message_key)
                                   .values(**values))
            if changed.rowcount == 0:
                conn.execute(T.insert().values(mailbox=mailbox, message_key=message_key, retry_count=0,
                                               created_at=now, **{**optional, **values}))
            row = conn.execute(select(T).where(T.c.mailbox == mailbox, T.c.message_key == message_key)).one()
        return QuarantineEntry.from_row(row)

    def get(self, entry_id: int) -> QuarantineEntry:
        """Return one entry; a StateStoreError names the id when there is no such entry."""
        with self._db.read() as conn:
            row = conn.execute(select(T).where(T.c.id == entry_id)).first()
        if row is None:
            raise StateStoreError(f"there is no quarantine entry {entry_id}",
                                  hint="run `email-router quarantine list` to see the entries")
        return QuarantineEntry.from_row(row)

    def find(self, mailbox: str, message_key: str) -> QuarantineEntry | None:
        """Return the entry of one message of one mailbox, if it was ever quarantined."""
        query = select(T).where(T.c.mailbox == mailbox, T.c.message_key == message_key)
        with self._db.read() as conn:
            row = conn.execute(query).first()
        return None if row is None else QuarantineEntry.from_row(row)

    def entries(self, *, mailbox: str | None = None, status: QuarantineStatus | None = QuarantineStatus.OPEN,
                limit: int = 100) -> list[QuarantineEntry]:
        """Entries newest first, filtered by mailbox and status (None: every status)."""
        query = select(T).order_by(T.c.updated_at.desc(), T.c.id.desc()).limit(limit)
        if mailbox is not None:
            query = query.where(T.c.mailbox == mailbox)
        if status is not None:
            query = query.where(T.c.status == status.value)
        with self._db.read() as conn:
            return [QuarantineEntry.from_row(r) for r in conn.execute(query)]

    def count(self, *, mailbox: str | None = None, status: QuarantineStatus = QuarantineStatus.OPEN) -> int:
        """How many entries have ``status`` (in one mailbox, or in all)."""
        query = select(func.count()).select_from(T).where(T.c.status == status.value)
        if mailbox is not None:
            query = query.where(T.c.mailbox == mailbox)
        with self._db.read() as conn:
            return int(conn.execute(query).scalar_one())

    def retry(self, entry_id: int) -> QuarantineEntry:
        """Ask the lane to process the message again, reopening its ledger row in the same transaction."""
        entry = self.get(entry_id)
        if entry.status is QuarantineStatus.RESOLVED:
            raise StateStoreError(f"quarantine entry {entry_id} is resolved and cannot be retried",
                                  hint="a resolved entry is closed; re-import the message with a backfill",
                                  mailbox=entry.mailbox)
        now = self._clock.now()
        with self._db.write() as conn:
            conn.execute(update(T).where(T.c.id == entry_id).values(
                status=QuarantineStatus.RETRY.value, retry_count=T.c.retry_count + 1,
                retry_requested_at=now, updated_at=now))
            self._ledger.reopen(entry.mailbox, entry.message_key, tx=conn)
        return self.get(entry_id)

    def due_retries(self, mailbox: str) -> list[QuarantineEntry]:
        """Entries of a mailbox an admin asked to retry, oldest request first."""
        query = (select(T).where(T.c.mailbox == mailbox, T.c.status == QuarantineStatus.RETRY.value)
                 .order_by(T.c.retry_requested_at, T.c.id))
        with self._db.read() as conn:
            return [QuarantineEntry.from_row(r) for r in conn.execute(query)]

    def resolve(self, entry_id: int, resolution: str, *, tx: Connection | None = None) -> QuarantineEntry:
        """Close an entry with a note (an admin's decision, or "delivered on retry" from the lane)."""
        now = self._clock.now()
        with self._db.joined(tx) as conn:
            changed = conn.execute(update(T).where(T.c.id == entry_id).values(
                status=QuarantineStatus.RESOLVED.value, resolution=resolution, resolved_at=now,
                updated_at=now))
            row = conn.execute(select(T).where(T.c.id == entry_id)).first()
        if changed.rowcount == 0 or row is None:
            raise StateStoreError(f"there is no quarantine entry {entry_id}",
                                  hint="run `email-router quarantine list` to see the entries")
        return QuarantineEntry.from_row(row)

"""Per-mailbox synchronisation state: the SyncFolderItems state of each folder, and the process-from date.

The sync state is Exchange's opaque cursor: saving it says "everything before this point has been
seen". The process-from date keeps a newly connected mailbox from importing its whole history: the
first time a mailbox is seen it is set to "now", and only an admin's backfill moves it back.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Connection, bindparam, delete, select, update
from sqlalchemy.exc import IntegrityError

from router.clock import Clock
from router.state.engine import Database
from router.state.schema import sync_folders as F
from router.state.schema import sync_mailboxes as M

_GET_STATE = select(F.c.sync_state).where(F.c.mailbox == bindparam("_mailbox"),
                                          F.c.folder == bindparam("_folder"))
"""``get_state``'s statement, built once: every sweep of every incoming lane asks it."""


class SyncStates:
    """SyncFolderItems states per (mailbox, folder) and process-from dates per mailbox."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    def get_state(self, mailbox: str, folder: str) -> str | None:
        """Return the saved sync state of a folder, or None to start a full synchronisation."""
        with self._db.read() as conn:
            return conn.execute(_GET_STATE, {"_mailbox": mailbox, "_folder": folder}).scalar_one_or_none()

    def save_state(self, mailbox: str, folder: str, state: str | None, *,
                   tx: Connection | None = None) -> None:
        """Save the sync state reached after a batch has been recorded in the ledger."""
        now = self._clock.now()
        with self._db.joined(tx) as conn:
            changed = conn.execute(update(F).where(F.c.mailbox == mailbox, F.c.folder == folder)
                                   .values(sync_state=state, updated_at=now))
            if changed.rowcount == 0:
                conn.execute(F.insert().values(mailbox=mailbox, folder=folder, sync_state=state,
                                               updated_at=now))

    def reset(self, mailbox: str, folder: str | None = None) -> int:
        """Forget the sync state of one folder (or all folders) of a mailbox; returns how many were forgotten.

        Needed when Exchange answers ErrorInvalidSyncStateData, and before a backfill.
        """
        query = delete(F).where(F.c.mailbox == mailbox)
        if folder is not None:
            query = query.where(F.c.folder == folder)
        with self._db.write() as conn:
            return int(conn.execute(query).rowcount)

    def process_from(self, mailbox: str) -> datetime | None:
        """Return the date from which messages of the mailbox are processed, or None if never set."""
        with self._db.read() as conn:
            return conn.execute(select(M.c.process_from).where(M.c.mailbox == mailbox)).scalar_one_or_none()

    def ensure_process_from(self, mailbox: str, default: datetime | None = None) -> datetime:
        """Return the process-from date, first setting it to ``default`` (else now) if the mailbox is new."""
        query = select(M.c.process_from).where(M.c.mailbox == mailbox)
        with self._db.write() as conn:
            current: datetime | None = conn.execute(query).scalar_one_or_none()
            if current is not None:
                return current
            # Exchange reports received times to the second: a "now" with microseconds would skip mail
            # that arrived in the same second as the mailbox's first sync.
            value = default or self._clock.now().replace(microsecond=0)
            try:
                with conn.begin_nested():
                    conn.execute(M.insert().values(mailbox=mailbox, process_from=value,
                                                   updated_at=self._clock.now()))
            except IntegrityError:
                # Another process set it first (possible on PostgreSQL); its date stands.
                stored: datetime = conn.execute(query).scalar_one()
                return stored
            return value.astimezone(UTC)

    def set_process_from(self, mailbox: str, when: datetime) -> None:
        """Move the process-from date (a backfill moves it back, re-importing that window idempotently)."""
        now = self._clock.now()
        with self._db.write() as conn:
            changed = conn.execute(update(M).where(M.c.mailbox == mailbox)
                                   .values(process_from=when, updated_at=now))
            if changed.rowcount == 0:
                conn.execute(M.insert().values(mailbox=mailbox, process_from=when, updated_at=now))

    def mailboxes(self) -> list[str]:
        """Every mailbox that has a process-from date or a saved sync state."""
        with self._db.read() as conn:
            names = set(conn.execute(select(M.c.mailbox)).scalars())
            names.update(conn.execute(select(F.c.mailbox)).scalars())
        return sorted(names)

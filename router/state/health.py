"""Mailbox health, as server-side sync shows it: per mailbox and direction, how the last runs went.

Status is Not Run until the first run, then Success or Failure. Failures count up until a success;
a stopped mailbox is not scheduled until an admin (or a successful Test Access) resumes it. Every
change returns a ``HealthChange`` so that the caller can raise an alert on the way down and a
"recovered" notice on the way up without reading the state twice.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, Row, bindparam, or_, select, update
from sqlalchemy.exc import IntegrityError

from router.clock import Clock
from router.errors import bounded
from router.state.direction import Direction
from router.state.engine import Database
from router.state.schema import mailbox_health as T

LOOKUP_CHUNK = 500
"""Mailboxes per IN list when the coalesced write looks for rows to insert (within SQLite's limits)."""


class HealthStatus(StrEnum):
    """The status column of server-side sync."""

    NOT_RUN = "not_run"
    SUCCESS = "success"
    FAILURE = "failure"


@dataclass(frozen=True)
class MailboxHealth:
    """The health of one direction of one mailbox."""

    mailbox: str
    direction: Direction
    status: HealthStatus = HealthStatus.NOT_RUN
    last_run_at: datetime | None = None
    last_success_at: datetime | None = None
    last_error: str | None = None
    last_error_code: str | None = None
    last_error_at: datetime | None = None
    consecutive_failures: int = 0
    stopped: bool = False
    stopped_reason: str | None = None
    next_due_at: datetime | None = None
    failing_since: datetime | None = None
    """When the current streak of failures began (None without one, or for a streak older than the
    store's schema version 4)."""

    @classmethod
    def from_row(cls, row: Row[tuple[object, ...]]) -> MailboxHealth:
        values = dict(row._mapping)
        values["direction"] = Direction(values["direction"])
        values["status"] = HealthStatus(values["status"])
        values["stopped"] = bool(values["stopped"])
        return cls(**values)

    def is_due(self, now: datetime) -> bool:
        """True when the scheduler should run this mailbox direction now."""
        return not self.stopped and (self.next_due_at is None or self.next_due_at <= now)


@dataclass(frozen=True)
class HealthChange:
    """The health before and after one update."""

    before: MailboxHealth
    after: MailboxHealth

    @property
    def recovered(self) -> bool:
        """True when a failing or stopped mailbox direction has just come back."""
        was_bad = self.before.status is HealthStatus.FAILURE or self.before.stopped
        return was_bad and self.after.status is HealthStatus.SUCCESS and not self.after.stopped

    @property
    def newly_stopped(self) -> bool:
        """True when this update stopped the mailbox direction."""
        return self.after.stopped and not self.before.stopped


class MailboxHealthStore:
    """Reads and updates mailbox health."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    def get(self, mailbox: str, direction: Direction) -> MailboxHealth:
        """Return the health of one mailbox direction (Not Run if it never ran)."""
        with self._db.read() as conn:
            return self._select(conn, mailbox, direction) or MailboxHealth(mailbox, direction)

    def all(self, direction: Direction | None = None) -> list[MailboxHealth]:
        """Every mailbox direction that has run at least once, sorted by mailbox."""
        query = select(T).order_by(T.c.mailbox, T.c.direction)
        if direction is not None:
            query = query.where(T.c.direction == direction.value)
        with self._db.read() as conn:
            return [MailboxHealth.from_row(r) for r in conn.execute(query)]

    def record_success(self, mailbox: str, direction: Direction, *,
                       next_due_at: datetime | None = None) -> HealthChange:
        """A run finished without a mailbox-level error: Success, failures reset to zero."""
        now = self._clock.now()
        return self._change(mailbox, direction, lambda before: {
            "status": HealthStatus.SUCCESS.value, "last_run_at": now, "last_success_at": now,
            "consecutive_failures": 0, "next_due_at": next_due_at, "failing_since": None})

    def record_successes(self, runs: Mapping[tuple[str, Direction], datetime]) -> int:
        """Record successful runs of mailbox directions that were Not Run or Success, in one transaction.

        The monitor writes a lane's health itself when a run changes it for the worse or back; first
        successes and the successes after them (every idle sweep) are coalesced into this one write.
        A row that is neither (a failure or stop written meanwhile) keeps its own story; a direction
        without a row gets one. Returns the rows written.
        """
        if not runs:
            return 0
        rows = [{"m": mailbox, "d": direction.value, "at": at} for (mailbox, direction), at in runs.items()]
        query = (update(T).where(T.c.mailbox == bindparam("m"), T.c.direction == bindparam("d"),
                                 # Not in_(): an expanding parameter cannot be used with executemany.
                                 or_(T.c.status == HealthStatus.SUCCESS.value,
                                     T.c.status == HealthStatus.NOT_RUN.value),
                                 T.c.stopped.is_(False))
                 .values(status=HealthStatus.SUCCESS.value, last_run_at=bindparam("at"),
                         last_success_at=bindparam("at"), consecutive_failures=0, failing_since=None))
        with self._db.write() as conn:
            written = int(conn.execute(query, rows).rowcount or 0)
            if written < len(rows):
                written += self._insert_successes(conn, rows)
        return written

    @staticmethod
    def _insert_successes(conn: Connection, rows: list[dict[str, Any]]) -> int:
        """Insert the rows of ``rows`` that do not exist yet, in Success; how many.

        Only the rows of ``rows``' mailboxes are read (in chunks): a first pass flushes every second,
        and reading all 20,000 rows of 10,000 mailboxes each time would cost more than the write."""
        mailboxes = sorted({r["m"] for r in rows})
        existing: set[tuple[str, str]] = set()
        for start in range(0, len(mailboxes), LOOKUP_CHUNK):
            chunk = mailboxes[start:start + LOOKUP_CHUNK]
            existing.update((m, d) for m, d in conn.execute(
                select(T.c.mailbox, T.c.direction).where(T.c.mailbox.in_(chunk))))
        missing = [r for r in rows if (r["m"], r["d"]) not in existing]
        if missing:
            success = {"status": HealthStatus.SUCCESS.value, "consecutive_failures": 0, "stopped": False}
            conn.execute(T.insert(), [{"mailbox": r["m"], "direction": r["d"], "last_run_at": r["at"],
                                       "last_success_at": r["at"], **success} for r in missing])
        return len(missing)

    def record_failure(self, mailbox: str, direction: Direction, *, error: str, code: str | None = None,
                       next_due_at: datetime | None = None) -> HealthChange:
        """A run failed: Failure, one more consecutive failure, due again at ``next_due_at``."""
        now = self._clock.now()
        return self._change(mailbox, direction, lambda before: {
            "status": HealthStatus.FAILURE.value, "last_run_at": now, "last_error": bounded(error),
            "last_error_code": code, "last_error_at": now,
            "consecutive_failures": before.consecutive_failures + 1, "next_due_at": next_due_at,
            "failing_since": before.failing_since if before.consecutive_failures else now})

    def stop(self, mailbox: str, direction: Direction, reason: str) -> HealthChange:
        """Stop scheduling the mailbox direction until it is resumed (a permanent error)."""
        return self._change(mailbox, direction, lambda before: {"stopped": True, "stopped_reason": reason})

    def resume(self, mailbox: str, direction: Direction, *,
               next_due_at: datetime | None = None) -> HealthChange:
        """Schedule a stopped mailbox direction again (an admin's decision, or a passing Test Access)."""
        return self._change(mailbox, direction, lambda before: {
            "stopped": False, "stopped_reason": None, "consecutive_failures": 0, "next_due_at": next_due_at,
            "failing_since": None})

    def set_next_due(self, mailbox: str, direction: Direction, when: datetime | None) -> HealthChange:
        """Say when the mailbox direction should run next (None: as soon as possible)."""
        return self._change(mailbox, direction, lambda before: {"next_due_at": when})

    def due(self, direction: Direction) -> list[MailboxHealth]:
        """Mailbox directions known here that are not stopped and whose next run time has come."""
        now = self._clock.now()
        return [h for h in self.all(direction) if h.is_due(now)]

    def _change(self, mailbox: str, direction: Direction,
                compute: Callable[[MailboxHealth], Mapping[str, object]]) -> HealthChange:
        with self._db.write() as conn:
            before = self._select(conn, mailbox, direction)
            if before is None:
                self._insert_default(conn, mailbox, direction)
                before = MailboxHealth(mailbox, direction)
            conn.execute(update(T).where(T.c.mailbox == mailbox, T.c.direction == direction.value)
                         .values(**compute(before)))
            after = self._select(conn, mailbox, direction)
        assert after is not None
        return HealthChange(before, after)

    @staticmethod
    def _insert_default(conn: Connection, mailbox: str, direction: Direction) -> None:
        try:
            with conn.begin_nested():
                conn.execute(T.insert().values(mailbox=mailbox, direction=direction.value,
                                               status=HealthStatus.NOT_RUN.value, consecutive_failures=0,
                                               stopped=False))
        except IntegrityError:
            # Another process created the row first (possible on PostgreSQL); the update applies to it.
            pass

    @staticmethod
    def _select(conn: Connection, mailbox: str, direction: Direction) -> MailboxHealth | None:
        query = select(T).where(T.c.mailbox == mailbox, T.c.direction == direction.value)
        row = conn.execute(query).first()
        return None if row is None else MailboxHealth.from_row(row)

"""The decision trail: every decision taken about a message, so an admin can ask what happened to it.

Append-only. Each step of either pipeline records what it decided (screened out as an auto-reply,
correlated by tracking token, delivered as activity X, quarantined at stage Y, sent); ``email-router
trace MESSAGE-ID`` reads them back across all mailboxes in the order they happened.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, select

from router.clock import Clock
from router.state.direction import Direction
from router.state.engine import Database
from router.state.keys import normalize_message_id
from router.state.schema import decisions as T


@dataclass(frozen=True)
class Decision:
    """One recorded decision about one message in one mailbox."""

    id: int
    direction: Direction
    mailbox: str
    message_key: str
    internet_message_id: str | None
    item_id: str | None
    stage: str
    result: str
    reason_code: str | None
    correlation_method: str | None
    activity_id: str | None
    text: str | None
    at: datetime

    @classmethod
    def from_row(cls, row: Row[Any]) -> Decision:
        values = dict(row._mapping)
        values["direction"] = Direction(values["direction"])
        return cls(**values)


@dataclass(frozen=True)
class TrailRow:
    """One decision to append with ``DecisionTrail.record_many`` (the fields ``record`` takes)."""

    direction: Direction
    mailbox: str
    message_key: str
    stage: str
    result: str
    internet_message_id: str | None = None
    item_id: str | None = None
    reason_code: str | None = None
    correlation_method: str | None = None
    activity_id: str | None = None
    text: str | None = None


class DecisionTrail:
    """Records decisions and finds them by Message-ID or by ledger key."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    def record(self, *, direction: Direction, mailbox: str, message_key: str, stage: str, result: str,
               internet_message_id: str | None = None, item_id: str | None = None,
               reason_code: str | None = None, correlation_method: str | None = None,
               activity_id: str | None = None, text: str | None = None,
               tx: Connection | None = None) -> Decision:
        """Append one decision (pass ``tx`` to commit it with the ledger step it explains)."""
        values = _values(TrailRow(
            direction=direction, mailbox=mailbox, message_key=message_key, stage=stage, result=result,
            internet_message_id=internet_message_id, item_id=item_id, reason_code=reason_code,
            correlation_method=correlation_method, activity_id=activity_id, text=text), self._clock.now())
        with self._db.joined(tx) as conn:
            new_id = conn.execute(_INSERT, values).inserted_primary_key
        assert new_id is not None
        return Decision(id=int(new_id[0]), **{**values, "direction": direction})

    def record_many(self, rows: Sequence[TrailRow], *, tx: Connection) -> None:
        """Append many decisions in one statement (``executemany``) inside the caller's transaction.

        The hot path of a batch: one INSERT for every row of the batch instead of one per row. The
        rows are stored exactly as ``record`` stores them; their ids are not read back.
        """
        if not rows:
            return
        at = self._clock.now()
        tx.execute(_INSERT, [_values(row, at) for row in rows])

    def for_message_id(self, message_id: str) -> list[Decision]:
        """Every decision about one Internet Message-ID (any spelling), across mailboxes, in order."""
        normalized = normalize_message_id(message_id)
        query = select(T).where(T.c.internet_message_id == normalized).order_by(T.c.at, T.c.id)
        with self._db.read() as conn:
            return [Decision.from_row(r) for r in conn.execute(query)]

    def for_message(self, mailbox: str, message_key: str) -> list[Decision]:
        """Every decision about one message of one mailbox (also for messages without a Message-ID)."""
        query = (select(T).where(T.c.mailbox == mailbox, T.c.message_key == message_key)
                 .order_by(T.c.at, T.c.id))
        with self._db.read() as conn:
            return [Decision.from_row(r) for r in conn.execute(query)]

    def recent(self, mailbox: str | None = None, *, limit: int = 100) -> list[Decision]:
        """The latest decisions, newest first, of one mailbox or of all."""
        query = select(T).order_by(T.c.at.desc(), T.c.id.desc()).limit(limit)
        if mailbox is not None:
            query = query.where(T.c.mailbox == mailbox)
        with self._db.read() as conn:
            return [Decision.from_row(r) for r in conn.execute(query)]


_INSERT = T.insert()


def _values(row: TrailRow, at: datetime) -> dict[str, Any]:
    """The trail table's columns for ``row`` appended at ``at`` (its Message-ID normalised)."""
    return {**vars(row), "direction": row.direction.value,
            "internet_message_id": normalize_message_id(row.internet_message_id), "at": at}

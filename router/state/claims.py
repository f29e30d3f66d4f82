"""What claiming a piece of work can come to, shared by the incoming ledger and the send records.

A worker claims an item before it touches it and finishes each step with a compare-and-set on
(stage, owner). A claim is held by an ``owner`` (one worker of one process) until ``lease_until``; a
claim whose owner died is taken over once its lease has run out, and every takeover counts one
recovery, so an item that kills its worker every time is noticed instead of retried for ever.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, Connection, Table, and_, or_, update

DEFAULT_LEASE = timedelta(minutes=5)
"""How long a claim protects its item from other workers without being renewed."""

DEFAULT_MAX_RECOVERIES = 5
"""Takeovers after which a claim comes back EXHAUSTED, so the caller quarantines or fails the item."""


class ClaimOutcome(StrEnum):
    """The result of a claim attempt; only NEW and RECOVERED hand the item to the caller."""

    NEW = "new"
    """First sight of the item: the caller starts at the first step."""
    RECOVERED = "recovered"
    """An unfinished earlier attempt (a crash, a deferral, an abandoned claim): resume from its stage."""
    BUSY = "busy"
    """Another live worker holds the item: leave it alone."""
    DONE = "done"
    """The item already reached a final stage: nothing to do."""
    EXHAUSTED = "exhausted"
    """The item was recovered too often: the caller must give up on it (quarantine or fail)."""

    @property
    def acquired(self) -> bool:
        """True when the caller now holds the claim and must finish or release it."""
        return self in (ClaimOutcome.NEW, ClaimOutcome.RECOVERED, ClaimOutcome.EXHAUSTED)


def lease_expired(lease_until: datetime | None, now: datetime) -> bool:
    """True when nobody holds the claim any more (no lease, or the lease has run out)."""
    return lease_until is None or lease_until <= now


@dataclass(frozen=True)
class ClaimPolicy:
    """How long a claim lasts unrenewed, and how many crash takeovers an item survives."""

    lease: timedelta = DEFAULT_LEASE
    max_recoveries: int = DEFAULT_MAX_RECOVERIES


def take_over(tx: Connection, table: Table, row: Mapping[str, Any], *, owner: str, final: bool,
              now: datetime, policy: ClaimPolicy, values: Mapping[str, object]) -> ClaimOutcome:
    """Decide and record a claim on an existing row of a claimable table.

    The row must have the columns id, stage, owner, lease_until, retry_at, attempts, recoveries and
    updated_at. A row held by another owner whose lease has run out is taken over and counts one
    recovery; a released row (no owner) or a row the same owner holds is simply claimed again. The
    UPDATE is a compare-and-set on (stage, owner, lease), so two workers racing for it cannot both win.
    """
    if final:
        return ClaimOutcome.DONE
    held = row["owner"] is not None and not lease_expired(row["lease_until"], now)
    if held and row["owner"] != owner:
        return ClaimOutcome.BUSY
    crashed = row["owner"] is not None and row["owner"] != owner
    recoveries = row["recoveries"] + (1 if crashed else 0)
    c = table.c
    result = tx.execute(update(table).where(
        c.id == row["id"], c.stage == row["stage"], _same(c.owner, row["owner"]),
        _same(c.lease_until, row["lease_until"]),
    ).values(owner=owner, lease_until=now + policy.lease, retry_at=None, attempts=row["attempts"] + 1,
             recoveries=recoveries, updated_at=now, **values))
    if result.rowcount != 1:
        return ClaimOutcome.BUSY
    return ClaimOutcome.EXHAUSTED if recoveries > policy.max_recoveries else ClaimOutcome.RECOVERED


def advance(tx: Connection, table: Table, row_id: int, *, owner: str, allowed: Iterable[str],
            values: Mapping[str, object]) -> bool:
    """Compare-and-set one step of a claimed row: only its ``owner`` may move it, only from ``allowed``."""
    c = table.c
    result = tx.execute(update(table).where(c.id == row_id, c.owner == owner, c.stage.in_(list(allowed)))
                        .values(**values))
    return bool(result.rowcount == 1)


def abandon(tx: Connection, table: Table, owner: str, now: datetime) -> int:
    """Release every claim ``owner`` holds in ``table``, due again at once; returns how many."""
    c = table.c
    result = tx.execute(update(table).where(c.owner == owner)
                        .values(owner=None, lease_until=None, retry_at=now, updated_at=now))
    return int(result.rowcount)


def due(table: Table, now: datetime, open_stages: Iterable[str]) -> ColumnElement[bool]:
    """WHERE term for unfinished rows that are due: released and past ``retry_at``, or with a dead owner."""
    c = table.c
    released = and_(c.owner.is_(None), or_(c.retry_at.is_(None), c.retry_at <= now))
    dead = and_(c.owner.is_not(None), c.lease_until <= now)
    return and_(c.stage.in_(list(open_stages)), or_(released, dead))


def _same(column: ColumnElement[Any], value: object) -> ColumnElement[bool]:
    """A WHERE term matching ``value`` including NULL (``=`` never matches NULL in SQL)."""
    return column.is_(None) if value is None else column == value

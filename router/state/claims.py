"""What claiming a piece of work can come to, shared by the incoming ledger and the send records.

A worker claims an item before it touches it and finishes each step with a compare-and-set on
(stage, owner). A claim is held by an ``owner`` (one worker of one process) until ``lease_until``; a
claim whose owner died is taken over once its lease has run out, and every takeover counts one
recovery, so an item that kills its worker every time is noticed instead of retried for ever.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum, StrEnum
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Row,
    Table,
    Update,
    and_,
    bindparam,
    case,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from router.state.engine import serialised_writer

DEFAULT_LEASE = timedelta(minutes=5)
"""How long a claim protects its item from other workers without being renewed."""

_LISTED_SHAPES = 256
"""How many shapes (columns, row count) of ``advance_many``'s statement a table keeps built."""

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


class Unread(Enum):
    """``ClaimTable.claim``'s marker for "the caller has not read the row": it reads it itself."""

    UNREAD = "unread"


UNREAD = Unread.UNREAD


class ClaimTable:
    """The statements that claim and advance rows of one claimable table, built once.

    The table must have the columns id, stage, owner, lease_until, retry_at, attempts, recoveries and
    updated_at, plus the ``key`` columns that identify an item. Statements take their values as
    execution parameters (where-clause parameters start with ``_``), so the hot path builds no SQL.
    Where the database supports it (SQLite 3.35+, PostgreSQL) an UPDATE returns the changed row
    itself; elsewhere the row is read back in the same transaction.
    """

    def __init__(self, table: Table, key: tuple[str, ...]) -> None:
        c = table.c
        self.table = table
        self.key = key
        self.select_key = select(table).where(*(c[name] == bindparam(f"_{name}") for name in key))
        self.select_id = select(table).where(c.id == bindparam("_id"))
        self.insert = table.insert().returning(*table.c)
        self.plain_insert = table.insert()
        self.take = update(table).where(
            c.id == bindparam("_id"), c.stage == bindparam("_stage"),
            c.owner.is_not_distinct_from(bindparam("_old_owner")),
            c.lease_until.is_not_distinct_from(bindparam("_old_lease")))
        self.advance = update(table).where(
            c.id == bindparam("_id"), c.owner == bindparam("_owner"),
            c.stage.in_(bindparam("_allowed", expanding=True)))
        self.release_owner = update(table).where(c.owner == bindparam("_owner"))
        self._listed: dict[tuple[tuple[str, ...], tuple[str, ...], bool, int], Update] = {}
        self._returning = {id(self.take): self.take.returning(*table.c),
                           id(self.advance): self.advance.returning(*table.c)}

    def by_key(self, conn: Connection, *values: object) -> Row[Any] | None:
        """The row of one item, or None."""
        params = {f"_{name}": value for name, value in zip(self.key, values, strict=True)}
        return conn.execute(self.select_key, params).first()

    def insert_row(self, conn: Connection, values: Mapping[str, object]) -> Row[Any]:
        """Insert a row and return it as stored."""
        if conn.dialect.insert_returning:
            return conn.execute(self.insert, dict(values)).one()
        new_id = conn.execute(self.plain_insert, dict(values)).inserted_primary_key
        assert new_id is not None
        return conn.execute(self.select_id, {"_id": new_id[0]}).one()

    def update_row(self, conn: Connection, statement: Update,
                   params: Mapping[str, object]) -> Row[Any] | None:
        """Run a compare-and-set UPDATE; the changed row, or None when the condition did not hold."""
        if conn.dialect.update_returning:
            return conn.execute(self._returning[id(statement)], dict(params)).first()
        if conn.execute(statement, dict(params)).rowcount != 1:
            return None
        return conn.execute(self.select_id, {"_id": params["_id"]}).first()

    def claim(self, conn: Connection, key: Sequence[object], *, new: Mapping[str, object], owner: str,
              now: datetime, policy: ClaimPolicy, final: Callable[[str], bool],
              values: Mapping[str, object] | None = None,
              clash: Callable[[], Exception] | None = None,
              current: Row[Any] | Unread | None = UNREAD) -> tuple[ClaimOutcome, Row[Any]]:
        """Claim item ``key``: insert it (NEW), or take over its row (see ``take_over``).

        ``current``: the item's row (or None) as the caller read it earlier in this same transaction,
        which reading again would repeat (the select is then skipped).

        ``new`` holds the new row's own columns and first stage; the claim's columns are added here.
        ``final`` says whether a stage is final; ``values`` are set on a row taken over. Another process
        may insert the same item between our select and insert (possible on PostgreSQL; SQLite's BEGIN
        IMMEDIATE serialises writers): its row decides. An insert refused although no row has ``key``
        broke another unique constraint: ``clash`` builds the error to raise.
        """
        row = self.by_key(conn, *key) if isinstance(current, Unread) else current
        if row is None:
            claimed = {"owner": owner, "lease_until": now + policy.lease, "attempts": 1, "recoveries": 0,
                       "created_at": now, "updated_at": now}
            if serialised_writer(conn):
                # Nobody can insert ``key`` since our select: no savepoint needed to recover from a race.
                # A refused insert (another unique constraint) leaves a SQLite transaction usable.
                try:
                    return ClaimOutcome.NEW, self.insert_row(conn, {**new, **claimed})
                except IntegrityError as exc:
                    raise (clash() if clash is not None else exc) from exc
            try:
                with conn.begin_nested():
                    return ClaimOutcome.NEW, self.insert_row(conn, {**new, **claimed})
            except IntegrityError as exc:
                row = self.by_key(conn, *key)
                if row is None:
                    raise (clash() if clash is not None else exc) from exc
        return self.take_over(conn, row, owner=owner, final=final(row.stage), now=now, policy=policy,
                              values=values or {})

    def take_over(self, conn: Connection, row: Row[Any], *, owner: str, final: bool, now: datetime,
                  policy: ClaimPolicy, values: Mapping[str, object]) -> tuple[ClaimOutcome, Row[Any]]:
        """Decide and record a claim on an existing row.

        A row held by another owner whose lease has run out is taken over and counts one recovery;
        a released row (no owner) or a row the same owner holds is simply claimed again. The UPDATE
        is a compare-and-set on (stage, owner, lease), so two workers racing cannot both win.
        """
        if final:
            return ClaimOutcome.DONE, row
        held = row.owner is not None and not lease_expired(row.lease_until, now)
        if held and row.owner != owner:
            return ClaimOutcome.BUSY, row
        crashed = row.owner is not None and row.owner != owner
        recoveries = row.recoveries + (1 if crashed else 0)
        params = {"_id": row.id, "_stage": row.stage, "_old_owner": row.owner, "_old_lease": row.lease_until,
                  "owner": owner, "lease_until": now + policy.lease, "retry_at": None,
                  "attempts": row.attempts + 1, "recoveries": recoveries, "updated_at": now, **values}
        taken = self.update_row(conn, self.take, params)
        if taken is None:
            return ClaimOutcome.BUSY, row
        exhausted = recoveries > policy.max_recoveries
        return (ClaimOutcome.EXHAUSTED if exhausted else ClaimOutcome.RECOVERED), taken

    def advance_row(self, conn: Connection, row_id: int, *, owner: str, allowed: Iterable[str],
                    values: Mapping[str, object]) -> Row[Any] | None:
        """Compare-and-set one step of a claimed row: only its ``owner`` moves it, only from ``allowed``."""
        params = {"_id": row_id, "_owner": owner, "_allowed": list(allowed), **values}
        return self.update_row(conn, self.advance, params)

    def advance_many(self, conn: Connection, steps: Sequence[tuple[int, str, Mapping[str, object]]],
                     allowed: Iterable[str]) -> dict[int, Row[Any]]:
        """``advance_row`` of many rows at once: (row id, owner, values) each; the changed rows by id (a
        row missing lost its claim and moved nothing).

        One compare-and-set UPDATE per set of changed columns where the database returns updated rows:
        the values all its rows share are plain parameters, the ones that differ (and the owner, when
        the rows have several) are ``CASE id WHEN ... END`` terms. So rows advanced to the same values
        (the sends) and rows advanced each to its own (the ledger's activity ids) take the same single
        statement. Elsewhere, one ``advance_row`` per row.
        """
        allowed = list(allowed)
        if not conn.dialect.update_returning:
            changed = (self.advance_row(conn, row_id, owner=owner, allowed=allowed, values=changes)
                       for row_id, owner, changes in steps)
            return {row.id: row for row in changed if row is not None}
        groups: dict[tuple[str, ...], list[tuple[int, str, Mapping[str, object]]]] = {}
        for step in steps:
            groups.setdefault(tuple(sorted(step[2])), []).append(step)
        moved: dict[int, Row[Any]] = {}
        for columns, group in groups.items():
            varying = tuple(name for name in columns if any(s[2][name] != group[0][2][name] for s in group))
            owners = len({owner for _, owner, _ in group}) > 1
            params: dict[str, object] = {"_allowed": allowed, "_owner": group[0][1]}
            params.update((name, group[0][2][name]) for name in columns if name not in varying)
            for n, (row_id, owner, changes) in enumerate(group):
                params[f"_id_{n}"] = row_id
                if owners:
                    params[f"_owner_{n}"] = owner
                params.update((f"{name}_{n}", changes[name]) for name in varying)
            statement = self._advance_listed(columns, varying, owners, len(group))
            moved.update((row.id, row) for row in conn.execute(statement, params))
        return moved

    def _advance_listed(self, columns: tuple[str, ...], varying: tuple[str, ...], owners: bool,
                        count: int) -> Update:
        """``advance_many``'s UPDATE of ``count`` rows, built once per shape (SQLAlchemy then caches its
        compiled form): ``WHERE id IN (:_id_0, ...)``, and each column that differs between the rows
        (and the owner, when they have several) a ``CASE id WHEN :_id_n THEN :<column>_n ... END``."""
        shape = (columns, varying, owners, count)
        found = self._listed.get(shape)
        if found is not None:
            return found
        c = self.table.c
        ids = [bindparam(f"_id_{n}", type_=c.id.type) for n in range(count)]

        def per_row(name: str) -> ColumnElement[Any]:
            kind = (c.owner if name == "_owner" else c[name]).type
            return case(*((ids[n], bindparam(f"{name}_{n}", type_=kind)) for n in range(count)), value=c.id)

        changes = {name: per_row(name) if name in varying else bindparam(name, type_=c[name].type)
                   for name in columns}
        found = (update(self.table)
                 .where(c.id.in_(ids), c.owner == (per_row("_owner") if owners else bindparam("_owner")),
                        c.stage.in_(bindparam("_allowed", expanding=True)))
                 .values(changes).returning(*self.table.c))
        if len(self._listed) < _LISTED_SHAPES:
            self._listed[shape] = found
        return found

    def abandon(self, conn: Connection, owner: str, now: datetime) -> int:
        """Release every claim ``owner`` holds, due again at once; returns how many."""
        params = {"_owner": owner, "owner": None, "lease_until": None, "retry_at": now, "updated_at": now}
        return int(conn.execute(self.release_owner, params).rowcount)

    def due(self, now: datetime | ColumnElement[Any], open_stages: Iterable[str]) -> ColumnElement[bool]:
        """WHERE term for unfinished rows that are due: released and past ``retry_at``, or of a dead owner
        (``now`` a time, or a bound parameter of a statement built once)."""
        c = self.table.c
        released = and_(c.owner.is_(None), or_(c.retry_at.is_(None), c.retry_at <= now))
        dead = and_(c.owner.is_not(None), c.lease_until <= now)
        return and_(c.stage.in_(list(open_stages)), or_(released, dead))

    def due_of_mailbox(self, open_stages: Iterable[str]) -> Any:  # A Select of the table's rows.
        """The due rows of one mailbox in id order, as a statement built once: execute it with ``_mailbox``
        and ``_now``. Every idle sweep asks it; building it per call (then deriving its cache key) cost
        three times what running it does."""
        c = self.table.c
        return select(self.table).where(c.mailbox == bindparam("_mailbox"),
                                        self.due(bindparam("_now"), open_stages)).order_by(c.id)

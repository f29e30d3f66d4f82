"""Lane leases: which router instance serves each mailbox lane, with a fencing token per hand-over.

Every mailbox lane (mailbox, direction) has one row. An instance *acquires* a lane whose lease is
free or has run out; each acquisition increments the lane's ``token``. The holder renews its leases
while it runs and releases them at a graceful stop; a dead holder's leases simply run out, and another
instance acquires them. An instance that was paused past its lease (SIGSTOP) may wake believing it
still holds a lane: ``fence`` inside the transaction of each write for the lane refuses a token that is
no longer current, so the paused instance cannot write for a lane it lost.

Coordination is the database's own: acquisition picks rows with ``FOR UPDATE SKIP LOCKED`` on
PostgreSQL (two instances acquiring at once take disjoint lanes without waiting for each other) and
changes them with a compare-and-set UPDATE; ``fence`` reads the lease row ``FOR SHARE``, so a hand-over
waits for a write in flight under the old token to commit. SQLite serialises writers anyway.

Taking a lane over from a holder whose lease ran out is not enough to act on that holder's messages
in flight: it may have checked its lease just before a CRM call or an EWS send and be making it still
(slowly, or after a pause). Such a call started at least ``margin`` before the lease's end and lasts at
most the transport's timeout, so it has landed by the lease's end plus ``settle`` (the call bound less
the margin). The new holder acquires the lane at once and works everything else in it, but leaves the
old holder's claims (its messages and sends in flight) alone until then; recovering them afterwards
it finds what the call did (the CRM answers Duplicate) instead of racing it.

Fair share: with L lanes and N live instances, an instance holds at most ``ceil(L / N) + slack``; one
holding more releases the surplus, which the others acquire.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Connection, and_, func, or_, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from router.clock import Clock
from router.errors import ClaimLostError
from router.state.engine import Database
from router.state.instances import RunIdentity
from router.state.schema import incoming_ledger, lane_leases, outgoing_sends

T = lane_leases
DEFAULT_SLACK = 1
"""Lanes an instance may hold beyond its fair share, so that lanes do not move back and forth."""


@dataclass(frozen=True)
class LaneLease:
    """A lane held by this run: the token to pass to ``fence`` with every write for the lane."""

    mailbox: str
    direction: str
    token: int
    lease_until: datetime

    @property
    def lane(self) -> tuple[str, str]:
        return (self.mailbox, self.direction)


@dataclass(frozen=True)
class LeaseRow:
    """A lane's lease as stored: its holder (None when free), token, lease end and when it was taken."""

    mailbox: str
    direction: str
    instance: str | None
    run_id: str | None
    token: int
    lease_until: datetime | None
    acquired_at: datetime | None

    def held_by(self, instance: str, run_id: str, now: datetime) -> bool:
        """True when run ``run_id`` of ``instance`` holds the lane with a live lease at ``now``."""
        return (self.instance == instance and self.run_id == run_id and self.lease_until is not None
                and self.lease_until > now)


def fair_share(lanes: int, live_instances: int, slack: int = DEFAULT_SLACK) -> int:
    """Most lanes one of ``live_instances`` instances should hold out of ``lanes``."""
    return math.ceil(lanes / max(1, live_instances)) + slack


class LaneLeases:
    """The ``lane_leases`` table (see the module)."""

    def __init__(self, db: Database, clock: Clock, lease: timedelta,
                 settle: timedelta = timedelta(0)) -> None:
        """``settle``: how long past the end of a lease a call its holder started may still land (see
        ``_take``)."""
        self._db = db
        self._clock = clock
        self._lease = lease
        self._settle = settle

    def ensure(self, lanes: Iterable[tuple[str, str]]) -> None:
        """Add a (free) row for every lane that has none yet."""
        rows = [{"mailbox": m, "direction": d, "token": 0} for m, d in lanes]
        if not rows:
            return
        insert = sqlite_insert(T) if self._db.is_sqlite else pg_insert(T)
        with self._db.write() as conn:
            conn.execute(insert.on_conflict_do_nothing(index_elements=["mailbox", "direction"]), rows)

    def acquire(self, identity: RunIdentity, lanes: Sequence[tuple[str, str]], limit: int) -> list[LaneLease]:
        """Take up to ``limit`` of ``lanes`` whose lease is free or ran out; each gets a new token."""
        if limit <= 0 or not lanes:
            return []
        now = self._clock.now()
        free = or_(T.c.instance.is_(None), T.c.lease_until.is_(None), T.c.lease_until <= now)
        wanted = tuple_(T.c.mailbox, T.c.direction).in_(list(lanes))
        pick = (select(T.c.mailbox, T.c.direction).where(wanted, free)
                .order_by(T.c.mailbox, T.c.direction).limit(limit).with_for_update(skip_locked=True))
        taken: list[LaneLease] = []
        with self._db.write() as conn:
            for mailbox, direction in conn.execute(pick).all():
                lease = self._take(conn, identity, mailbox, direction, now)
                if lease is not None:
                    taken.append(lease)
        return taken

    def _take(self, conn: Connection, identity: RunIdentity, mailbox: str, direction: str,
              now: datetime) -> LaneLease | None:
        free = or_(T.c.instance.is_(None), T.c.lease_until.is_(None), T.c.lease_until <= now)
        before = conn.execute(select(T.c.instance, T.c.run_id, T.c.lease_until).where(
            T.c.mailbox == mailbox, T.c.direction == direction)).first()
        row = conn.execute(
            update(T).where(T.c.mailbox == mailbox, T.c.direction == direction, free)
            .values(instance=identity.instance, run_id=identity.run_id, token=T.c.token + 1,
                    lease_until=now + self._lease, acquired_at=now)
            .returning(T.c.token, T.c.lease_until)).first()
        if row is None:
            return None
        if before is not None and before.instance is not None and before.run_id is not None:
            # The holder's lease ran out (a dead or paused instance): its claims in the lane are taken
            # over — but not before a call it started under its lease can have landed (see ``settle``).
            settled = now if before.lease_until is None else max(now, before.lease_until + self._settle)
            _expire_claims(conn, mailbox, direction, f"{before.instance}/{before.run_id}", now, settled)
        return LaneLease(mailbox, direction, int(row.token), row.lease_until)

    def renew(self, identity: RunIdentity) -> list[LaneLease]:
        """Extend every lease this run still holds; returns them (a lane missing from it was lost)."""
        now = self._clock.now()
        with self._db.write() as conn:
            rows = conn.execute(
                update(T).where(self._held_by(identity), T.c.lease_until > now)
                .values(lease_until=now + self._lease)
                .returning(T.c.mailbox, T.c.direction, T.c.token, T.c.lease_until)).all()
        return sorted((LaneLease(r.mailbox, r.direction, int(r.token), r.lease_until) for r in rows),
                      key=lambda lease: lease.lane)

    def release(self, identity: RunIdentity, lanes: Iterable[tuple[str, str]] | None = None) -> int:
        """Hand ``lanes`` (default: all this run holds) back at once; returns how many."""
        where = self._held_by(identity)
        if lanes is not None:
            chosen = list(lanes)
            if not chosen:
                return 0
            where = and_(where, tuple_(T.c.mailbox, T.c.direction).in_(chosen))
        with self._db.write() as conn:
            return int(conn.execute(update(T).where(where).values(instance=None, run_id=None,
                                                                   lease_until=None)).rowcount)

    def take_back(self, identity: RunIdentity) -> int:
        """Expire the leases earlier runs of ``identity``'s instance still hold; returns how many.

        Only call this when those runs are known to be gone (the caller holds the instance's lock). The
        lanes stay attributed to the dead run, so whoever acquires them next expires its claims there —
        at once: the lease end is backdated by ``settle``, since a dead run starts no call any more.
        """
        now = self._clock.now()
        with self._db.write() as conn:
            return int(conn.execute(update(T).where(
                T.c.instance == identity.instance, T.c.run_id != identity.run_id, T.c.lease_until > now,
            ).values(lease_until=now - self._settle)).rowcount)

    def holders(self) -> dict[tuple[str, str], tuple[str | None, int, datetime | None]]:
        """Every lane's holder instance (None when free), token and lease end."""
        with self._db.read() as conn:
            rows = conn.execute(select(T.c.mailbox, T.c.direction, T.c.instance, T.c.token, T.c.lease_until))
            return {(r.mailbox, r.direction): (r.instance, int(r.token), r.lease_until) for r in rows}

    def rows(self) -> list[LeaseRow]:
        """Every lane's lease row, by mailbox and direction (for `status`)."""
        with self._db.read() as conn:
            rows = conn.execute(select(T).order_by(T.c.mailbox, T.c.direction))
            return [LeaseRow(**row._mapping) for row in rows]

    def fence(self, conn: Connection, lease: LaneLease) -> None:
        """Refuse (ClaimLostError) a write for ``lease``'s lane unless its token is still current and live.

        Call it first in the transaction of every write for the lane: the row stays share-locked until
        that transaction ends, so no hand-over can slip between the check and the write.
        """
        now = self._clock.now()
        query = select(T.c.token).where(T.c.mailbox == lease.mailbox, T.c.direction == lease.direction,
                                        T.c.token == lease.token, T.c.lease_until > now)
        if not self._db.is_sqlite:
            query = query.with_for_update(read=True)
        if conn.execute(query).first() is None:
            raise ClaimLostError(
                f"the lease on lane {lease.direction} of {lease.mailbox} (token {lease.token}) is no longer "
                "held by this run", hint="another router instance serves the lane now; this run stops it",
                mailbox=lease.mailbox)

    @staticmethod
    def _held_by(identity: RunIdentity) -> ColumnElement[bool]:
        return and_(T.c.instance == identity.instance, T.c.run_id == identity.run_id)


_CLAIMS = {"incoming": incoming_ledger, "outgoing": outgoing_sends}


def _expire_claims(conn: Connection, mailbox: str, direction: str, run_tag: str, now: datetime,
                   until: datetime) -> int:
    """Cut the live claims a run whose lease ran out holds in one lane down to ``until``, so the next
    holder recovers them then (counting recoveries) instead of after the claim lease."""
    table = _CLAIMS.get(direction)
    if table is None:
        return 0
    c = table.c
    # Rows a paused process still has locked in an open transaction are skipped rather than waited for:
    # the acquisition (and the renewals after it) must not hang on that process.
    live = (select(c.id).where(func.lower(c.mailbox) == mailbox.lower(),
                               c.owner.startswith(run_tag, autoescape=True), c.lease_until > until)
            .with_for_update(skip_locked=True))
    query = update(table).where(c.id.in_(live.scalar_subquery()))
    return int(conn.execute(query.values(lease_until=until)).rowcount)

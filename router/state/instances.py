"""Router instances: who is running against this state database, and their earlier claims.

Each service run registers under its *instance* name (stable across restarts of the same installation)
with a fresh *run id*; every claim the run takes is owned by a string that starts with the run's
``tag`` (``instance/run-id``). When an instance starts again after a crash, the claims of its earlier
runs are known to be dead at once: ``take_back`` expires their leases, so they are recovered (and
counted as recoveries) on the next pass instead of after the claim lease. The heartbeat lets ``status``
show which instances are alive.
"""

from __future__ import annotations

import hashlib
import re
import socket
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Row, Table, and_, select, update

from router.clock import Clock
from router.home import Home
from router.state.engine import Database
from router.state.schema import incoming_ledger, instances, outgoing_sends

INSTANCE_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
"""Instance names: letters, digits, '.', '_', '-'; at most 64 characters (a host name fits)."""

_CLAIM_TABLES: tuple[Table, ...] = (incoming_ledger, outgoing_sends)


def default_instance_name(home: Home) -> str:
    """This host and home: the same after a restart, different for another home or machine."""
    host = re.sub(r"[^A-Za-z0-9._-]", "-", socket.gethostname())[:48].strip("-.") or "host"
    digest = hashlib.sha256(str(home.root.resolve()).encode()).hexdigest()[:8]
    return f"{host}-{digest}"


@dataclass(frozen=True)
class RunIdentity:
    """One run of one instance; ``tag`` starts every claim owner of the run."""

    instance: str
    run_id: str

    @classmethod
    def new(cls, instance: str) -> RunIdentity:
        """A new run of ``instance``."""
        if not INSTANCE_PATTERN.match(instance):
            raise ValueError(f"{instance!r} is not a valid instance name (letters, digits, '.', '_', '-')")
        return cls(instance, uuid.uuid4().hex[:12])

    @property
    def tag(self) -> str:
        return f"{self.instance}/{self.run_id}"

    @property
    def instance_prefix(self) -> str:
        return f"{self.instance}/"


@dataclass(frozen=True)
class InstanceRow:
    """An instance as last registered: its current (or last) run and its heartbeat."""

    instance: str
    run_id: str
    host: str
    pid: int
    started_at: datetime
    heartbeat_at: datetime
    stopped_at: datetime | None

    @classmethod
    def from_row(cls, row: Row[tuple[object, ...]]) -> InstanceRow:
        return cls(**row._mapping)

    def alive(self, now: datetime, lease_seconds: float) -> bool:
        """Running, as far as the heartbeat tells: not stopped, and heard from within the lease."""
        return self.stopped_at is None and (now - self.heartbeat_at).total_seconds() <= lease_seconds


class InstanceRegistry:
    """The ``instances`` table and the claim take-back of a restarted instance."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    def get(self, instance: str) -> InstanceRow | None:
        """The registration of ``instance``, or None."""
        with self._db.read() as conn:
            row = conn.execute(select(instances).where(instances.c.instance == instance)).first()
            return InstanceRow.from_row(row) if row is not None else None

    def all(self) -> list[InstanceRow]:
        """Every instance ever registered, by name."""
        with self._db.read() as conn:
            rows = conn.execute(select(instances).order_by(instances.c.instance))
            return [InstanceRow.from_row(r) for r in rows]

    def register(self, identity: RunIdentity, host: str, pid: int) -> None:
        """Record ``identity`` as the running run of its instance (replacing an earlier run's row)."""
        now = self._clock.now()
        values = {"run_id": identity.run_id, "host": host, "pid": pid, "started_at": now, "heartbeat_at": now,
                  "stopped_at": None}
        with self._db.write() as conn:
            changed = conn.execute(update(instances).where(instances.c.instance == identity.instance)
                                   .values(**values)).rowcount
            if not changed:
                conn.execute(instances.insert().values(instance=identity.instance, **values))

    def heartbeat(self, identity: RunIdentity) -> bool:
        """Refresh the heartbeat of ``identity``; False when another run of the instance has replaced it."""
        with self._db.write() as conn:
            return bool(conn.execute(update(instances).where(
                instances.c.instance == identity.instance, instances.c.run_id == identity.run_id,
            ).values(heartbeat_at=self._clock.now())).rowcount)

    def stopped(self, identity: RunIdentity) -> None:
        """Record that the run stopped gracefully."""
        with self._db.write() as conn:
            conn.execute(update(instances).where(
                instances.c.instance == identity.instance, instances.c.run_id == identity.run_id,
            ).values(stopped_at=self._clock.now()))

    def take_back(self, identity: RunIdentity) -> int:
        """Expire the live claims of earlier runs of this instance; returns how many.

        Only call this when those runs are known to be gone (the caller holds the instance's lock).
        The claims are not released but expired, so taking one over still counts a recovery and a
        message that kills its worker every time is still noticed.
        """
        now = self._clock.now()
        taken = 0
        with self._db.write() as conn:
            for table in _CLAIM_TABLES:
                taken += _expire(conn, table, identity, now)
        return taken


def _expire(conn: Connection, table: Table, identity: RunIdentity, now: datetime) -> int:
    c = table.c
    earlier = and_(c.owner.startswith(identity.instance_prefix, autoescape=True),
                   ~c.owner.startswith(f"{identity.tag}:", autoescape=True), c.owner != identity.tag)
    # Finished rows have no owner, so only claims still held match.
    query = update(table).where(earlier, c.lease_until > now)
    return int(conn.execute(query.values(lease_until=now)).rowcount)

"""What `status` shows of the router instances and of the backlog: who runs, since when, what waits.

Read from the state store (the ``instances`` table and the unfinished ledger and send rows), so it
works whether or not a service runs, and shows every instance sharing a PostgreSQL state store.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from router.state import StateStore
from router.state.backlog import Backlog, backlogs
from router.state.instances import InstanceRow
from router.state.leases import LaneLeases, LeaseRow


@dataclass(frozen=True)
class InstanceStatus:
    """One instance: its last run and whether its heartbeat is current."""

    row: InstanceRow
    state: str
    """``running`` (heartbeat within the lease), ``stopped`` (graceful stop) or ``silent`` (no heartbeat)."""
    heartbeat_age: float
    lanes: tuple[HeldLane, ...] = ()
    """The lanes its current run holds a live lease on (PostgreSQL: several instances share the lanes)."""

    def to_json(self) -> dict[str, Any]:
        row = self.row
        return {"instance": row.instance, "run_id": row.run_id, "host": row.host, "pid": row.pid,
                "state": self.state, "started_at": row.started_at.isoformat(),
                "heartbeat_at": row.heartbeat_at.isoformat(),
                "heartbeat_age_seconds": round(self.heartbeat_age, 1),
                "stopped_at": row.stopped_at.isoformat() if row.stopped_at else None,
                "lanes": [lane.to_json() for lane in self.lanes]}


@dataclass(frozen=True)
class HeldLane:
    """A lane an instance holds: how long it has held it and how long its lease still runs."""

    mailbox: str
    direction: str
    token: int
    held_seconds: float
    lease_left_seconds: float

    def to_json(self) -> dict[str, Any]:
        return {"mailbox": self.mailbox, "direction": self.direction, "token": self.token,
                "held_seconds": round(self.held_seconds, 1),
                "lease_left_seconds": round(self.lease_left_seconds, 1)}


@dataclass(frozen=True)
class InstancesReport:
    """Every registered instance and every mailbox direction with unfinished work."""

    generated_at: datetime
    instances: tuple[InstanceStatus, ...]
    backlogs: tuple[Backlog, ...]

    def to_json(self) -> dict[str, Any]:
        now = self.generated_at
        return {"instances": [i.to_json() for i in self.instances],
                "backlogs": [{"mailbox": b.mailbox, "direction": b.direction.value,
                              "unfinished": b.unfinished,
                              "oldest_age_seconds": round((now - b.oldest_at).total_seconds(), 1),
                              "unmoved_seconds": round(b.stalled_for(now), 1)} for b in self.backlogs]}


def collect_instances(store: StateStore, lease_seconds: float) -> InstancesReport:
    """The instances and backlogs of ``store``; a heartbeat older than ``lease_seconds`` is silent."""
    now = store.clock.now()
    rows = store.instances.all()
    leases = LaneLeases(store.db, store.clock, timedelta(seconds=lease_seconds)).rows()
    statuses = tuple(InstanceStatus(row, _state(row, now, lease_seconds),
                                    max(0.0, (now - row.heartbeat_at).total_seconds()),
                                    _held(row, leases, now)) for row in rows)
    return InstancesReport(now, statuses, tuple(backlogs(store.db)))


def _held(row: InstanceRow, leases: list[LeaseRow], now: datetime) -> tuple[HeldLane, ...]:
    return tuple(HeldLane(lease.mailbox, lease.direction, lease.token,
                          max(0.0, (now - (lease.acquired_at or now)).total_seconds()),
                          ((lease.lease_until or now) - now).total_seconds())
                 for lease in leases if lease.held_by(row.instance, row.run_id, now))


def _state(row: InstanceRow, now: datetime, lease_seconds: float) -> str:
    if row.stopped_at is not None:
        return "stopped"
    return "running" if row.alive(now, lease_seconds) else "silent"

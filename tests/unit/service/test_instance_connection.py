"""An instance whose database connections drop: its lock is taken again and its leases renewed, or —
if another run of the same instance took the lock meanwhile — it stops acting on every lane.

The drop is real: the PostgreSQL server ends every session of the router's database
(``pg_terminate_backend``), as a server restart or a network cut would.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from router.clock import FrozenClock
from router.config.profile import Direction
from router.config.settings import SystemSettings
from router.errors import ClaimLostError, UsageError
from router.runtime.lane import LaneKey
from router.runtime.lane_lease import ensure_lease
from router.runtime.outcome import WorkContext, WorkResult
from router.service.instance import InstanceRun
from router.service.lease_keeper import REPLACED_ALERT, LeaseKeeper
from router.state import StateStore
from router.state.instances import RunIdentity

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
SETTINGS = SystemSettings(lease_seconds=30)
LANES = [LaneKey(f"m{n}@x.test", Direction.INCOMING) for n in range(3)]


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(T0)


@pytest.fixture
def store(postgres_url: str, clock: FrozenClock) -> Iterator[StateStore]:
    with StateStore.open(postgres_url, clock) as opened:
        yield opened


def drop_every_connection(url: str, clock: FrozenClock) -> int:
    """End every other session on the database (the router's pool and its lock connection)."""
    with StateStore.open(url, clock) as admin, admin.db.engine.connect() as conn:
        ended = conn.execute(text(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()")).scalar_one()
        conn.commit()
        return int(ended)


def started(store: StateStore, name: str) -> tuple[InstanceRun, LeaseKeeper]:
    run = InstanceRun(store, RunIdentity.new(name), SETTINGS)
    run.start()
    keeper = LeaseKeeper(store, run.identity, SETTINGS, lambda: list(LANES), lambda key: None,
                         guard=run.holds_lock)
    return run, keeper


def held_tokens(keeper: LeaseKeeper) -> dict[LaneKey, int]:
    leases = {key: keeper.book.lease(key) for key in LANES}
    return {key: lease.token for key, lease in leases.items() if lease is not None}


def turns_until_held(keeper: LeaseKeeper, tries: int = 3) -> None:
    """A turn right after the drop may meet a dead pooled connection (a StateStoreError, logged); the
    next gets a new one."""
    for _ in range(tries):
        keeper.turn()
        if keeper.book.held() == LANES:
            return


def test_a_dropped_connection_is_replaced_and_the_lock_and_leases_are_kept(
        store: StateStore, postgres_url: str, clock: FrozenClock) -> None:
    run, keeper = started(store, "router-a")
    try:
        keeper.turn()
        tokens = held_tokens(keeper)
        assert keeper.book.held() == LANES
        assert drop_every_connection(postgres_url, clock) >= 1
        clock.advance(5)
        turns_until_held(keeper)
        assert not keeper.deposed and keeper.book.held() == LANES
        assert held_tokens(keeper) == tokens  # Renewed, not lost and re-acquired.
        refused = pytest.raises(UsageError, match="already running")
        with StateStore.open(postgres_url, clock) as other, refused:
            InstanceRun(other, RunIdentity.new("router-a"), SETTINGS).start()  # The lock is held again.
    finally:
        keeper.close()
        run.close()


def test_a_run_replaced_while_its_connection_was_down_stops_acting(store: StateStore, postgres_url: str,
                                                                   clock: FrozenClock) -> None:
    run, keeper = started(store, "router-a")
    ran: list[LaneKey] = []

    def work(context: WorkContext) -> WorkResult:
        ensure_lease()
        ran.append(context.key)
        return WorkResult()

    try:
        keeper.turn()
        gated = keeper.gate(LANES[0], work)
        gated(WorkContext(LANES[0]))
        assert ran == [LANES[0]]
        drop_every_connection(postgres_url, clock)
        with StateStore.open(postgres_url, clock) as other_store:
            # The lock went with the connection: another run of the instance starts and takes back the
            # leases of "its crashed run" — which is alive.
            replacement = InstanceRun(other_store, RunIdentity.new("router-a"), SETTINGS)
            replacement.start()
            try:
                assert replacement.leases_taken_back == len(LANES)
                for _ in range(3):
                    keeper.turn()
                assert keeper.deposed and keeper.book.held() == []
                gated(WorkContext(LANES[0]))
                assert ran == [LANES[0]], "a deposed run does nothing"
                with pytest.raises(ClaimLostError):
                    keeper.book.check(LANES[0])
                keeper.turn()
                assert keeper.book.held() == [], "and never takes a lane again"
                assert any(a.kind == REPLACED_ALERT for a in other_store.alerts.open_alerts())
            finally:
                replacement.close()
    finally:
        keeper.close()
        run.close()

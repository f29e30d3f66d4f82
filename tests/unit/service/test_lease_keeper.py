"""The lease keeper and gated lane work: fair shares, hand-back at stop, take-over of a dead instance's
lanes, and a run that refuses to write or cause a side effect once its lease is not safely held."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from router.clock import FrozenClock
from router.config.profile import Direction
from router.config.settings import SystemSettings
from router.errors import ClaimLostError
from router.runtime.lane import LaneKey
from router.runtime.lane_lease import ensure_lease
from router.runtime.outcome import WorkContext, WorkResult
from router.service.instances_report import collect_instances
from router.service.lease_keeper import LeaseKeeper
from router.state import StateStore, sqlite_url
from router.state.instances import RunIdentity

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
SETTINGS = SystemSettings(lease_seconds=30)
LANES = [LaneKey(f"m{n}@x.test", Direction.INCOMING) for n in range(6)]


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(T0)


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path, clock: FrozenClock) -> Iterator[StateStore]:
    url = (sqlite_url(tmp_path / "state.sqlite") if request.param == "sqlite"
           else request.getfixturevalue("postgres_url"))
    with StateStore.open(url, clock) as opened:
        yield opened


class Woken(list[LaneKey]):
    def __call__(self, key: LaneKey) -> bool:
        self.append(key)
        return True


def keeper(store: StateStore, name: str, woken: Woken | None = None) -> LeaseKeeper:
    identity = RunIdentity.new(name)
    store.instances.register(identity, "host", 1)
    return LeaseKeeper(store, identity, SETTINGS, lambda: list(LANES),
                       woken if woken is not None else Woken())


def test_instances_share_the_lanes_and_a_stop_hands_them_back(store: StateStore) -> None:
    woken = Woken()
    a = keeper(store, "router-a", woken)
    a.turn()
    assert a.book.held() == LANES and woken == LANES  # Alone: every lane, each woken to run at once.
    b, c = keeper(store, "router-b"), keeper(store, "router-c")
    for _ in range(3):
        for each in (a, b, c):
            each.turn()
    held = [each.book.held() for each in (a, b, c)]
    assert sorted(key for keys in held for key in keys) == LANES, "every lane held exactly once"
    assert [len(keys) for keys in held] == [2, 2, 2], "evenly spread"
    a.close()  # Graceful: handed back at once, the others take them at their next turn.
    store.instances.stopped(a.identity)  # As the service records it right after.
    b.turn()
    c.turn()
    assert sorted(b.book.held() + c.book.held()) == LANES


def test_a_dead_instances_lanes_move_once_its_lease_runs_out(store: StateStore, clock: FrozenClock) -> None:
    dead, heir = keeper(store, "router-a"), keeper(store, "router-b")
    dead.turn()
    heir.turn()
    taken = len(dead.book.held())
    clock.advance(20)
    heir.turn()
    assert len(heir.book.held()) == len(LANES) - taken  # Not yet: the dead one's leases still run.
    clock.advance(11)
    store.instances.heartbeat(heir.identity)
    heir.turn()
    assert heir.book.held() == LANES


def test_gated_work_runs_only_held_lanes_and_refuses_once_the_lease_is_not_safe(store: StateStore,
                                                                                  clock: FrozenClock) -> None:
    a, b = keeper(store, "router-a"), keeper(store, "router-b")
    calls: list[str] = []
    pause: list[float] = []
    refused: list[ClaimLostError] = []

    def work(context: WorkContext) -> WorkResult:
        clock.advance(sum(pause))  # SIGSTOP in the middle of the run, then SIGCONT.
        try:
            ensure_lease()
        except ClaimLostError as exc:
            refused.append(exc)
            raise
        store.ledger.claim(context.key.mailbox, f"k{len(calls)}", owner=f"{a.identity.tag}:1")
        calls.append(context.key.mailbox)
        return WorkResult(processed=1)

    gated = a.gate(LANES[0], work)
    assert gated(WorkContext(LANES[0])) == WorkResult() and calls == []  # Not held: idle, untouched.
    a.turn()
    assert gated(WorkContext(LANES[0])).processed == 1 and calls == [LANES[0].mailbox]
    pause.append(21)  # 9 s left on the lease when the run wakes: less than the 10 s margin.
    assert gated(WorkContext(LANES[0])) == WorkResult(), "refused before the side effect: an idle run"
    assert len(calls) == 1 and "no longer safely holds" in str(refused[-1]), "nothing after the check ran"
    assert gated(WorkContext(LANES[0])) == WorkResult(), "a lane not safely held does not run"
    pause.clear()
    clock.advance(10)
    b.turn()  # The lane moved on; a's stale token is fenced in the database as well.
    lease = a.book.lease(LANES[0])
    assert lease is not None
    with pytest.raises(ClaimLostError), store.db.write() as tx:
        a.book.leases.fence(tx, lease)
    a.turn()  # a learns that it lost the lane.
    assert LANES[0] not in a.book.held()
    assert gated(WorkContext(LANES[0])) == WorkResult() and len(calls) == 1
    ensure_lease()  # Outside a lane's run there is nothing to check.


def test_a_run_that_lost_its_lane_is_refused_even_once_its_instance_holds_the_lane_again(
        store: StateStore, clock: FrozenClock) -> None:
    a, b = keeper(store, "router-a"), keeper(store, "router-b")
    a.turn()
    refused: list[str] = []

    def meanwhile() -> None:
        """Paused past its lease in the middle of the run: b takes the lanes over, then stops (handing
        them back), and a's keeper — woken — takes them again under new tokens."""
        clock.advance(31)
        store.instances.heartbeat(b.identity)
        b.turn()
        assert LANES[0] in b.book.held()
        b.close()
        store.instances.heartbeat(a.identity)
        a.turn()

    def work(context: WorkContext) -> WorkResult:
        keeper_thread = threading.Thread(target=meanwhile)  # The keepers run beside the lane's run.
        keeper_thread.start()
        keeper_thread.join()
        assert LANES[0] in a.book.held() and a.book.safe(LANES[0])
        claim = lambda: store.ledger.claim(context.key.mailbox, "k", owner=a.identity.tag)  # noqa: E731
        for step in (ensure_lease, claim):
            try:
                step()
            except ClaimLostError as exc:
                refused.append(exc.message)
        return WorkResult(processed=1)

    token = a.book.lease(LANES[0])
    assert gated_result(a, work) == WorkResult(processed=1)
    # What the run read under its old lease may be stale: neither its send nor its write goes through.
    assert len(refused) == 2 and f"(token {token.token if token else None})" in refused[0], refused
    assert store.ledger.find_by_message_id("k") == []


def gated_result(owner: LeaseKeeper, work: object) -> WorkResult:
    return owner.gate(LANES[0], work)(WorkContext(LANES[0]))  # type: ignore[arg-type]


def test_status_shows_each_instances_lanes_and_lease_ages(store: StateStore, clock: FrozenClock) -> None:
    a = keeper(store, "router-a")
    a.turn()
    clock.advance(4)
    b = keeper(store, "router-b")
    a.turn()
    b.turn()
    report = collect_instances(store, SETTINGS.lease_seconds).to_json()["instances"]
    lanes = {item["instance"]: item["lanes"] for item in report}
    assert [lane["mailbox"] for lane in lanes["router-a"]] == [key.mailbox for key in a.book.held()]
    assert [lane["mailbox"] for lane in lanes["router-b"]] == [key.mailbox for key in b.book.held()]
    assert len(lanes["router-a"]) == len(lanes["router-b"]) == 3
    assert {lane["held_seconds"] for lane in lanes["router-a"]} == {4.0}
    assert {lane["held_seconds"] for lane in lanes["router-b"]} == {0.0}
    assert {lane["lease_left_seconds"] for lane in lanes["router-a"]} == {30.0}


def test_a_stop_leaves_a_lane_whose_run_it_abandoned_to_its_lease(store: StateStore,
                                                                 clock: FrozenClock) -> None:
    a = keeper(store, "router-a")
    a.turn()
    b = keeper(store, "router-b")
    running, finish = threading.Event(), threading.Event()

    def run() -> None:  # A run the stop could not wait for.
        with a.book.run(LANES[0], threading.Event()):
            running.set()
            finish.wait(10)

    worker = threading.Thread(target=run)
    worker.start()
    assert running.wait(10)
    a.close()
    finish.set()
    worker.join()
    store.instances.stopped(a.identity)
    b.turn()
    assert b.book.held() == LANES[1:]  # Handed back at once, but for the abandoned lane...
    clock.advance(31)
    b.turn()
    assert b.book.held() == LANES  # ...which moves once its lease has run out.


def test_the_settle_time_covers_the_longest_configured_call() -> None:
    from router.service.lease_keeper import CALL_SECONDS, longest_call

    assert longest_call(None) == CALL_SECONDS == 130  # Connect 10 s + read 120 s, the default timeouts.

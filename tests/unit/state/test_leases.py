"""Lane leases: acquisition, renewal, hand-over with a new fencing token, fencing, fair share."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from router.clock import FrozenClock
from router.errors import ClaimLostError
from router.state import ClaimOutcome, StateStore, fencing
from router.state.instances import RunIdentity
from router.state.leases import LaneLeases, fair_share

LANES = [(f"m{n}@x.test", "incoming") for n in range(6)]
LEASE = timedelta(seconds=30)


@pytest.fixture
def leases(store: StateStore, clock: FrozenClock) -> LaneLeases:
    leases = LaneLeases(store.db, clock, LEASE)
    leases.ensure(LANES)
    return leases


def test_a_lane_is_held_by_one_instance_until_its_lease_runs_out(leases: LaneLeases,
                                                                 clock: FrozenClock) -> None:
    a, b = RunIdentity.new("router-a"), RunIdentity.new("router-b")
    held = leases.acquire(a, LANES, limit=4)
    assert [lease.lane for lease in held] == LANES[:4] and {lease.token for lease in held} == {1}
    assert [lease.lane for lease in leases.acquire(b, LANES, limit=6)] == LANES[4:]
    clock.advance(20)
    assert len(leases.renew(a)) == 4  # Renewed while held: still a's after the first 30 s.
    assert len(leases.renew(b)) == 2
    clock.advance(20)
    assert leases.acquire(b, LANES, limit=6) == []
    clock.advance(31)
    moved = leases.acquire(b, LANES[:4], limit=6)
    assert [lease.lane for lease in moved] == LANES[:4] and {lease.token for lease in moved} == {2}
    assert leases.renew(a) == []  # a's leases are gone: it must stop those lanes.


def test_a_paused_instance_cannot_write_for_a_lane_it_lost(store: StateStore, leases: LaneLeases,
                                                           clock: FrozenClock) -> None:
    paused, other = RunIdentity.new("router-a"), RunIdentity.new("router-b")
    [stale] = leases.acquire(paused, LANES[:1], limit=1)
    with store.db.write() as tx:
        leases.fence(tx, stale)  # Current: the write may go on.
    clock.advance(31)  # SIGSTOP past the lease...
    [current] = leases.acquire(other, LANES[:1], limit=1)
    assert current.token == stale.token + 1
    with pytest.raises(ClaimLostError, match="token 1"), store.db.write() as tx:  # ...then SIGCONT.
        leases.fence(tx, stale)
    with store.db.write() as tx:
        leases.fence(tx, current)


def test_an_expired_lease_fences_even_before_another_instance_takes_it(store: StateStore, leases: LaneLeases,
                                                                       clock: FrozenClock) -> None:
    [lease] = leases.acquire(RunIdentity.new("router-a"), LANES[:1], limit=1)
    clock.advance(31)
    with pytest.raises(ClaimLostError), store.db.write() as tx:
        leases.fence(tx, lease)


def test_a_graceful_stop_hands_the_lanes_back_at_once(leases: LaneLeases) -> None:
    a, b = RunIdentity.new("router-a"), RunIdentity.new("router-b")
    leases.acquire(a, LANES, limit=6)
    assert leases.release(a, LANES[:2]) == 2
    assert [lease.lane for lease in leases.acquire(b, LANES, limit=6)] == LANES[:2]
    assert leases.release(a) == 4
    assert len(leases.acquire(b, LANES, limit=6)) == 4
    holders = leases.holders()
    assert {holder for holder, _, _ in holders.values()} == {"router-b"}


def test_fair_share_leaves_a_small_slack() -> None:
    assert fair_share(6, 1) == 7 and fair_share(6, 2) == 4 and fair_share(7, 3) == 4 and fair_share(0, 0) == 1


def test_concurrent_acquisitions_take_disjoint_lanes(postgres_url: str, clock: FrozenClock) -> None:
    lanes = [(f"m{n}@x.test", "incoming") for n in range(40)]
    with StateStore.open(postgres_url, clock) as store:
        LaneLeases(store.db, clock, LEASE).ensure(lanes)
    won: dict[str, list[tuple[str, str]]] = {}
    barrier = threading.Barrier(4)

    def grab(name: str) -> None:
        with StateStore.open(postgres_url, clock) as own:
            leases = LaneLeases(own.db, clock, LEASE)
            barrier.wait()
            taken: list[tuple[str, str]] = []
            for _ in range(10):
                taken += [lease.lane for lease in leases.acquire(RunIdentity.new(name), lanes, limit=2)]
            won[name] = taken

    threads = [threading.Thread(target=grab, args=(f"router-{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every = [lane for taken in won.values() for lane in taken]
    assert sorted(every) == sorted(lanes), "every lane taken exactly once"


def test_taking_over_a_lane_from_a_dead_run_expires_its_claims_there(store: StateStore, leases: LaneLeases,
                                                                    clock: FrozenClock) -> None:
    dead, heir = RunIdentity.new("router-a"), RunIdentity.new("router-b")
    leases.acquire(dead, LANES[:2], limit=2)
    mine = store.ledger.claim("m0@x.test", "k1", owner=f"{dead.tag}:1:m0@x.test")
    elsewhere = store.ledger.claim("m1@x.test", "k2", owner=f"{dead.tag}:2:m1@x.test")
    assert store.ledger.claim("m0@x.test", "k1", owner=f"{heir.tag}:1:m0").outcome is ClaimOutcome.BUSY
    clock.advance(31)  # The claims' own lease (5 minutes) is far from over, the lane's is.
    leases.acquire(heir, LANES[:1], limit=1)
    taken = store.ledger.claim("m0@x.test", "k1", owner=f"{heir.tag}:1:m0")
    assert taken.outcome is ClaimOutcome.RECOVERED and taken.entry.recoveries == 1 and mine.acquired
    untouched = store.ledger.claim("m1@x.test", "k2", owner=f"{heir.tag}:2:m1")
    assert untouched.outcome is ClaimOutcome.BUSY and elsewhere.acquired  # Its lane was not taken.


def test_a_lane_handed_back_keeps_no_claims_to_expire(store: StateStore, leases: LaneLeases) -> None:
    a, b = RunIdentity.new("router-a"), RunIdentity.new("router-b")
    leases.acquire(a, LANES[:1], limit=1)
    held = store.ledger.claim("m0@x.test", "k1", owner=f"{a.tag}:1:m0@x.test")
    leases.release(a)  # A graceful hand-over: a's run may still be finishing the claim.
    leases.acquire(b, LANES[:1], limit=1)
    assert held.acquired
    assert store.ledger.claim("m0@x.test", "k1", owner=f"{b.tag}:1:m0").outcome is ClaimOutcome.BUSY


def test_every_write_of_a_fenced_context_checks_the_lease(store: StateStore, leases: LaneLeases,
                                                          clock: FrozenClock) -> None:
    [lease] = leases.acquire(RunIdentity.new("router-a"), LANES[:1], limit=1)
    with fencing.bound(lambda conn: leases.fence(conn, lease)):
        store.ledger.claim("m0@x.test", "k1", owner="router-a/x:1")
        clock.advance(31)
        with pytest.raises(ClaimLostError):
            store.ledger.claim("m0@x.test", "k2", owner="router-a/x:1")
    store.ledger.claim("m0@x.test", "k3", owner="unfenced")  # Outside the block writes are not fenced.
    assert store.ledger.get("m0@x.test", "k2") is None


def test_a_restarted_instance_takes_back_its_dead_runs_leases_at_once(store: StateStore, leases: LaneLeases,
                                                                       clock: FrozenClock) -> None:
    crashed, restarted = RunIdentity.new("router-a"), RunIdentity.new("router-a")
    other = RunIdentity.new("router-b")
    leases.acquire(crashed, LANES[:2], limit=2)
    leases.acquire(other, LANES[2:3], limit=1)
    claim = store.ledger.claim("m0@x.test", "k1", owner=f"{crashed.tag}:1:m0@x.test")
    assert claim.acquired and leases.take_back(restarted) == 2  # Not router-b's lane.
    assert [lease.lane for lease in leases.acquire(restarted, LANES, limit=6)] == LANES[:2] + LANES[3:]
    taken = store.ledger.claim("m0@x.test", "k1", owner=f"{restarted.tag}:1:m0@x.test")
    assert taken.outcome is ClaimOutcome.RECOVERED  # The dead run's claim went with its lane.


def test_the_heir_leaves_the_old_holders_messages_in_flight_alone_until_its_calls_have_landed(
        store: StateStore, clock: FrozenClock) -> None:
    settle = timedelta(seconds=60)
    leases = LaneLeases(store.db, clock, LEASE, settle=settle)
    leases.ensure(LANES)
    paused, heir = RunIdentity.new("router-a"), RunIdentity.new("router-b")
    leases.acquire(paused, LANES[:1], limit=1)
    in_flight = store.ledger.claim("m0@x.test", "k1", owner=f"{paused.tag}:1:m0@x.test")
    assert in_flight.acquired
    clock.advance(31)  # Paused past its lease, possibly right after checking it before a CRM call.
    assert len(leases.acquire(heir, LANES[:1], limit=1)) == 1  # The lane moves at once...
    assert store.ledger.claim("m0@x.test", "k2", owner=f"{heir.tag}:1:m0").outcome is ClaimOutcome.NEW
    # ...but the message whose call may still land stays the old holder's until lease end + settle.
    assert store.ledger.claim("m0@x.test", "k1", owner=f"{heir.tag}:1:m0").outcome is ClaimOutcome.BUSY
    clock.advance(58)
    assert store.ledger.claim("m0@x.test", "k1", owner=f"{heir.tag}:1:m0").outcome is ClaimOutcome.BUSY
    clock.advance(2)
    assert store.ledger.claim("m0@x.test", "k1", owner=f"{heir.tag}:1:m0").outcome is ClaimOutcome.RECOVERED


def test_a_dead_runs_lanes_taken_back_by_its_instance_need_no_settling(store: StateStore,
                                                                      clock: FrozenClock) -> None:
    leases = LaneLeases(store.db, clock, LEASE, settle=timedelta(seconds=60))
    leases.ensure(LANES)
    crashed, restarted = RunIdentity.new("router-a"), RunIdentity.new("router-a")
    leases.acquire(crashed, LANES[:1], limit=1)
    store.ledger.claim("m0@x.test", "k1", owner=f"{crashed.tag}:1:m0@x.test")
    assert leases.take_back(restarted) == 1  # Known dead (the instance's lock): it starts no call any more.
    leases.acquire(restarted, LANES[:1], limit=1)
    taken = store.ledger.claim("m0@x.test", "k1", owner=f"{restarted.tag}:1:m0@x.test")
    assert taken.outcome is ClaimOutcome.RECOVERED

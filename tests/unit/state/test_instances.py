"""Instances: registration and heartbeat, the take-back of a restarted instance's claims, the backlog."""

from __future__ import annotations

from datetime import timedelta

from router.clock import FrozenClock
from router.state import ClaimOutcome, Direction, StateStore
from router.state.backlog import backlogs
from router.state.instances import RunIdentity


def test_a_restarted_instance_takes_back_its_earlier_claims_at_once(store: StateStore,
                                                                   clock: FrozenClock) -> None:
    crashed, other = RunIdentity.new("router-a"), RunIdentity.new("router-b")
    store.ledger.claim("m@x.test", "k1", owner=f"{crashed.tag}:1:m@x.test")
    store.ledger.claim("m@x.test", "k2", owner=f"{other.tag}:1:m@x.test")
    store.sends.claim("m@x.test", "e1", owner=f"{crashed.tag}:outgoing", message_id="<e1@x.test>")
    restarted = RunIdentity.new("router-a")
    store.ledger.claim("m@x.test", "k3", owner=f"{restarted.tag}:1:m@x.test")
    clock.advance(1)

    assert store.instances.take_back(restarted) == 2

    owner = f"{restarted.tag}:2:m@x.test"
    recovered = store.ledger.claim("m@x.test", "k1", owner=owner)
    assert recovered.outcome is ClaimOutcome.RECOVERED and recovered.entry.recoveries == 1
    assert store.sends.claim("m@x.test", "e1", owner=f"{restarted.tag}:outgoing",
                             message_id="<e1@x.test>").outcome is ClaimOutcome.RECOVERED
    # Another instance's claim and the new run's own are left alone.
    assert store.ledger.claim("m@x.test", "k2", owner=owner).outcome is ClaimOutcome.BUSY
    assert store.ledger.claim("m@x.test", "k3", owner=owner).outcome is ClaimOutcome.BUSY


def test_an_instance_name_that_prefixes_another_takes_back_only_its_own(store: StateStore) -> None:
    store.ledger.claim("m@x.test", "k1", owner=f"{RunIdentity.new('router-ab').tag}:1:m@x.test")
    assert store.instances.take_back(RunIdentity.new("router-a")) == 0


def test_registration_heartbeat_and_stop(store: StateStore, clock: FrozenClock) -> None:
    first = RunIdentity.new("router-a")
    store.instances.register(first, "host-1", 101)
    clock.advance(20)
    assert store.instances.heartbeat(first)
    [row] = store.instances.all()
    assert (row.run_id, row.host, row.pid) == (first.run_id, "host-1", 101)
    assert row.heartbeat_at == clock.now() and row.alive(clock.now(), 30)
    assert not row.alive(clock.now() + timedelta(seconds=31), 30)
    second = RunIdentity.new("router-a")
    store.instances.register(second, "host-1", 102)
    assert not store.instances.heartbeat(first)  # Replaced by the newer run.
    store.instances.stopped(second)
    row = store.instances.get("router-a")
    assert row is not None and row.stopped_at == clock.now() and not row.alive(clock.now(), 30)


def test_backlogs_count_unfinished_work_and_how_long_it_stood_still(store: StateStore,
                                                                    clock: FrozenClock) -> None:
    store.ledger.claim("a@x.test", "k1", owner="o")
    clock.advance(5 * 60)
    claim = store.ledger.claim("a@x.test", "k2", owner="o")
    store.ledger.claim("a@x.test", "k3", owner="o")
    store.sends.claim("b@x.test", "e1", owner="o", message_id="<e1@x.test>")
    store.ledger.mark_screened(claim)  # Finished: no longer part of the backlog.
    clock.advance(10 * 60)
    found = {(b.mailbox, b.direction): b for b in backlogs(store.db)}
    incoming = found[("a@x.test", Direction.INCOMING)]
    assert incoming.unfinished == 2 and incoming.stalled_for(clock.now()) == 600
    assert incoming.oldest_at == clock.now() - timedelta(minutes=15)
    assert found[("b@x.test", Direction.OUTGOING)].unfinished == 1

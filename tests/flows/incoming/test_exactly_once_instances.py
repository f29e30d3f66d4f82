"""Exactly once with three router instances on one PostgreSQL database, one of them killed or frozen.

The single-instance tests (``test_exactly_once``) kill a worker at each step and re-run the lane later.
Here instance ``router-0`` serves the mailbox's lane in a child process (``tests.flows.fleet_child``)
under a real lane lease and is SIGKILLed at each step — or SIGSTOPped past its lease right after
``ensure_lease`` passed, before its batch's Check/Deliver call went out, and SIGCONTed once another
instance has delivered. Instances ``router-1`` and ``router-2`` race for the lane once the lease runs
out (one wins; the other finds it held); the winner drains it (``fleet_kit.heirs_take_over``).
Deliveries are counted from the CRM's call journal: every message once, and only a kill between the
CRM's commit and the ledger's record may deliver again.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from router.clock import SystemClock
from router.config import Direction
from router.crm.embedded import EmbeddedCrm
from router.crm.embedded.journal import DeliveryAudit, entries
from router.pipeline.incoming.checkpoints import Step
from router.runtime.lane import LaneKey
from router.state import LedgerStage, StateStore
from tests.flows.fleet_child import BEFORE_SIDE_EFFECT
from tests.flows.fleet_kit import child, heirs_take_over, incoming_lane, killed, wait_stopped
from tests.flows.incoming.once_kit import (
    KILL_POINTS,
    assert_delivered_once,
    in_crm_at_kill,
    redelivered_after_kill,
)
from tests.flows.incoming.rig import ALICE, CAROL, Rig

pytestmark = [pytest.mark.flow, pytest.mark.slow]

MESSAGES = [f"<fleet{n}@fabrikam.com>" for n in range(3)]
LANE = LaneKey(ALICE, Direction.INCOMING)


@pytest.fixture
def published(rig: Rig) -> Iterator[Rig]:
    rig.publish()
    for n, message_id in enumerate(MESSAGES):
        rig.sim.control.inject(ALICE, from_=CAROL, to=[ALICE], subject=f"Fleet {n}", body="only once",
                               message_id=message_id)
    yield rig


def take_over(rig: Rig, url: str) -> None:
    heirs_take_over(rig.home, url, LANE, lambda: incoming_lane(ALICE), lambda: all_final(url))


def all_final(url: str) -> bool:
    with StateStore.open(url, SystemClock()) as store:
        return all(entry.stage is LedgerStage.ACKNOWLEDGED for m in MESSAGES
                   for entry in store.ledger.find_by_message_id(m)) and all(
            store.ledger.find_by_message_id(m) for m in MESSAGES)


def assert_exactly_once(rig: Rig, url: str, kills: list[datetime]) -> DeliveryAudit:
    with StateStore.open(url, SystemClock()) as store:
        audit = assert_delivered_once(rig, store, MESSAGES, kills)
    for item in rig.sim.control.messages(ALICE):
        assert item.categories == ["Tracked to Dynamics 365"]
    return audit


@pytest.mark.parametrize(("step", "nth"), KILL_POINTS)
def test_an_instance_killed_at_each_step_leaves_the_others_exactly_once(published: Rig, postgres_url: str,
                                                                      step: Step, nth: int) -> None:
    killed(published.home, postgres_url, LANE, step.value, nth)
    kill = datetime.now(UTC)
    assert sum(len(published.activities(m)) for m in MESSAGES) == in_crm_at_kill(step, MESSAGES)
    take_over(published, postgres_url)
    audit = assert_exactly_once(published, postgres_url, [kill])
    assert len(audit.redeliveries) == redelivered_after_kill(step, MESSAGES)


def test_an_instance_frozen_past_its_lease_before_a_delivery_delivers_nothing_when_it_wakes(
        published: Rig, postgres_url: str) -> None:
    frozen = child(published.home, postgres_url, LANE, "stop", BEFORE_SIDE_EFFECT, 1)
    try:
        wait_stopped(frozen)
        pause = datetime.now(UTC)
        assert sum(len(published.activities(m)) for m in MESSAGES) == 0  # Frozen before its batch's call.
        take_over(published, postgres_url)  # Its lease runs out; another instance delivers the rest.
        os.kill(frozen.pid, signal.SIGCONT)
        out, err = frozen.communicate(timeout=60)
    finally:
        if frozen.poll() is None:
            os.kill(frozen.pid, signal.SIGCONT)
            frozen.kill()
    # Woken, it went on to its Check/Deliver call with the old token; the CRM refused it, leaving no trace.
    assert frozen.returncode == 0 and "woke before the side effect" in out and "lost the lane" in out, err
    audit = assert_exactly_once(published, postgres_url, [pause])
    assert audit.redeliveries == []  # Not even an explained one: nothing was delivered twice.
    with EmbeddedCrm(published.home.crm_db) as crm, crm.reading() as conn:
        tokens = {e.fence.token for e in entries(conn) if e.fence is not None}
    assert len(tokens) == 1, "only the heir's token reached the journal: the frozen call was refused"

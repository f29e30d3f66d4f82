"""Each email sent exactly once with three router instances on one PostgreSQL database, one of them
killed or frozen in the middle of a send.

The single-instance tests (``test_exactly_once``) kill a worker at each step of a send and run the lane
again later. Here instance ``router-0`` serves Alice's outgoing lane in a child process
(``tests.flows.fleet_child``) under a real lane lease, and the first time its batch of two emails
reaches a step it is

* SIGKILLed, at each step;
* or SIGSTOPped with both emails rendered, before the first submission, and SIGCONTed once another
  instance has sent both: its lease check must refuse (over EWS and over Graph);
* or SIGSTOPped right after its lease check passed, before the first send went out, and SIGCONTed a
  few seconds after another instance took the lane over: it sends the first email late, and the new
  holder, which leaves the old holder's sends alone until a send started under the lease has landed,
  must find that send in Sent Items rather than send the email again.

Instances ``router-1`` and ``router-2`` race for the lane once the lease runs out (one wins; the other
finds it held); the winner drains it (``fleet_kit.heirs_take_over``). What left is counted from the
simulator's outbound journal: each email once, Sent in the CRM with the Message-ID that left, its send
record final.

The CRM hands back emails left in Sending after SendingStatusDelay; these tests shorten it (and
PendingStatusDelay) to a second so that the heirs get them at once — as the soak does.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from collections.abc import Iterator

import pytest

from router.clock import SystemClock
from router.config import Direction
from router.pipeline.outgoing.steps import Step
from router.runtime.lane import LaneKey
from router.state import StateStore
from tests.flows.fleet_child import BEFORE_SIDE_EFFECT
from tests.flows.fleet_kit import LEASE_SECONDS, child, heirs_take_over, killed, outgoing_lane, wait_stopped
from tests.flows.outgoing.once_kit import KILL_STEPS, all_recorded, assert_left_at, assert_sent_once
from tests.flows.outgoing.world import ALICE, BERT, CAROL, SVC, OutgoingWorld
from tests.support.crm import Organisation

pytestmark = [pytest.mark.flow, pytest.mark.slow]

LANE = LaneKey(ALICE, Direction.OUTGOING)
DELAYS: dict[str, object] = {"sending_status_delay_seconds": 1, "pending_status_delay_seconds": 0}
SLOW_CALL_SECONDS = LEASE_SECONDS / 3 + 20.0
"""The frozen test's bound on a call: the heirs leave the old holder's sends alone for 20 s past its
lease, the time its send — checked under the lease, made after it — has to land."""
WAKE_AFTER_SECONDS = 5.0
"""The frozen instance wakes this long after the heir took the lane: the heir has run the lane many
times by then (without the bound above it would have sent both emails, and the woken instance would
send the first again)."""


@pytest.fixture
def emails(world: OutgoingWorld, crm_org: Organisation) -> Iterator[list[str]]:
    """Two CRM emails of Alice's in Pending Send, on a published EWS profile with Send As."""
    yield pending(world, crm_org)


def pending(world: OutgoingWorld, crm_org: Organisation, *, graph: bool = False) -> list[str]:
    """Publish an outgoing profile with Send As (over Graph: from the service mailbox) and put two CRM
    emails of Alice's in Pending Send."""
    world.grant("full_access")
    world.grant("send_as")
    world.publish(settings=DELAYS, graph=graph, service_mailbox=SVC if graph else None)
    return [world.pending(crm_org.alice, CAROL, BERT, subject=f"Quote {n}") for n in (1, 2)]


def take_over(world: OutgoingWorld, url: str, ids: list[str], **options: object) -> None:
    heirs_take_over(world.home, url, LANE, lambda: outgoing_lane(ALICE), lambda: recorded(world, url, ids),
                    **options)  # type: ignore[arg-type]


def recorded(world: OutgoingWorld, url: str, ids: list[str]) -> bool:
    with StateStore.open(url, SystemClock()) as store:
        return all_recorded(world, store, ids)


def assert_exactly_once(world: OutgoingWorld, url: str, ids: list[str], sent_items: str = ALICE) -> None:
    with StateStore.open(url, SystemClock()) as store:
        assert_sent_once(world, store, ids, sent_items)


@pytest.mark.parametrize("step", KILL_STEPS)
def test_an_instance_killed_at_each_step_of_a_send_leaves_the_others_sending_each_email_once(
        world: OutgoingWorld, emails: list[str], postgres_url: str, step: Step) -> None:
    killed(world.home, postgres_url, LANE, step.value, 1)
    with StateStore.open(postgres_url, SystemClock()) as store:
        assert_left_at(world, store, emails, step)
    take_over(world, postgres_url, emails)
    assert_exactly_once(world, postgres_url, emails)


@pytest.mark.parametrize("transport", ["ews", "graph"])
def test_an_instance_frozen_past_its_lease_before_a_send_sends_nothing_the_heir_sends(
        world: OutgoingWorld, crm_org: Organisation, postgres_url: str, transport: str) -> None:
    graph = transport == "graph"
    emails = pending(world, crm_org, graph=graph)
    frozen = child(world.home, postgres_url, LANE, "stop", BEFORE_SIDE_EFFECT, 1)
    try:
        wait_stopped(frozen)
        assert world.journal() == []  # Frozen before the batch's first send.
        # Another instance takes the lane over and works it; a few seconds later the frozen one wakes
        # and makes the send it checked its lease for. The heir leaves the frozen instance's sends
        # alone until a send started under its lease has landed; then it finds that send in Sent Items.
        waking = threading.Timer(WAKE_AFTER_SECONDS, os.kill, (frozen.pid, signal.SIGCONT))
        take_over(world, postgres_url, emails, call_seconds=SLOW_CALL_SECONDS, taken=waking.start)
        out, err = frozen.communicate(timeout=60)
    finally:
        _thaw(frozen)
    # Woken, it sent the first email, then refused the second: the lane was lost.
    assert frozen.returncode == 0 and "woke before the side effect" in out, err
    assert_exactly_once(world, postgres_url, emails, SVC if graph else ALICE)


@pytest.mark.parametrize("transport", ["ews", "graph"])
def test_an_instance_frozen_past_its_lease_before_it_submits_sends_nothing_when_it_wakes(
        world: OutgoingWorld, crm_org: Organisation, postgres_url: str, transport: str) -> None:
    graph = transport == "graph"
    ids = pending(world, crm_org, graph=graph)
    frozen = child(world.home, postgres_url, LANE, "stop", Step.RENDERED.value, 1)
    try:
        wait_stopped(frozen)
        assert world.journal() == []  # Frozen with both emails rendered, before the first submission.
        take_over(world, postgres_url, ids)  # Its lease runs out; another instance sends both.
        os.kill(frozen.pid, signal.SIGCONT)
        _, err = frozen.communicate(timeout=60)
    finally:
        _thaw(frozen)
    # Woken, it went on to submit with its lease long gone: the lease check refused, over EWS and Graph
    # — even when its keeper had taken the lane back meanwhile (the heirs hand it back as they stop).
    assert frozen.returncode == 0, err
    assert_exactly_once(world, postgres_url, ids, SVC if graph else ALICE)


def _thaw(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        os.kill(process.pid, signal.SIGCONT)
        process.kill()
        process.communicate()

"""The outgoing poll of a deployment: one question for every served mailbox, only busy lanes woken."""

from __future__ import annotations

import time

import pytest

from router.config import Direction
from router.crm.codes import EmailStatus
from router.crm.outgoing_query import pending_send_query
from router.crm.query import Filter
from router.pipeline.outgoing.poller import Member, PendingSendPoller
from router.runtime.lane import LaneKey
from tests.flows.outgoing.world import ALICE, BERT, CAROL, DEPLOYMENT, SALES, OutgoingWorld
from tests.support.crm import Organisation

pytestmark = pytest.mark.flow


def _poller(world: OutgoingWorld, woken: list[LaneKey]) -> PendingSendPoller:
    world.lane(ALICE)  # opens the resources and the served assignments
    assert world.resources is not None and world.config is not None
    poller = PendingSendPoller(world.resources, lambda key: woken.append(key) is None)
    for address in (ALICE, BERT, SALES):
        assignment = world.lane(address)._assignment
        poller.watch(Member(LaneKey(address, Direction.OUTGOING), assignment.crm_mailbox_id, DEPLOYMENT,
                            world.config, owner=object()))
    return poller


def test_the_poll_wakes_only_the_lanes_with_mail_to_send_and_claims_nothing(
        world: OutgoingWorld, crm_org: Organisation) -> None:
    world.publish()
    woken: list[LaneKey] = []
    poller = _poller(world, woken)
    assert poller.poll() == set() and woken == []
    email_id = world.pending(crm_org.alice, CAROL)
    assert poller.poll() == {LaneKey(ALICE, Direction.OUTGOING)}
    assert world.status(email_id) is EmailStatus.PENDING_SEND, "the lane claims it, not the poll"


def test_the_poll_hands_back_mail_stuck_in_sending_once_for_the_deployment(
        world: OutgoingWorld, crm_org: Organisation) -> None:
    world.publish()
    email_id = world.pending(crm_org.bert, CAROL)
    assert world.crm.background_send_email(None, _everything(world), 5) == [email_id]
    assert world.status(email_id) is EmailStatus.SENDING
    woken: list[LaneKey] = []
    poller = _poller(world, woken)
    assert poller.poll() == set(), "younger than SendingStatusDelay: left alone"
    world.clock.advance(31 * 60)
    assert poller.poll() == {LaneKey(BERT, Direction.OUTGOING)}
    assert world.status(email_id) is EmailStatus.PENDING_SEND


def test_a_rebuilt_lane_stays_covered_when_the_old_one_closes(world: OutgoingWorld,
                                                              crm_org: Organisation) -> None:
    world.publish()
    alice_id = world.lane(ALICE)._assignment.crm_mailbox_id
    assert world.resources is not None and world.config is not None
    poller = PendingSendPoller(world.resources, lambda key: True)
    key, old, new = LaneKey(ALICE, Direction.OUTGOING), object(), object()
    poller.watch(Member(key, alice_id, DEPLOYMENT, world.config, owner=old))
    poller.watch(Member(key, alice_id, DEPLOYMENT, world.config, owner=new))
    poller.unwatch(key, owner=old)
    world.pending(crm_org.alice, CAROL)
    assert poller.poll() == {key}, "the old lane's close leaves the new lane watched"
    poller.unwatch(key, owner=new)
    assert poller.poll() == set()


def _everything(world: OutgoingWorld) -> Filter:
    ids = [world.lane(a)._assignment.crm_mailbox_id for a in (ALICE, BERT, SALES)]
    return pending_send_query(ids, world.clock.now())


def test_a_mailbox_the_running_poll_found_quiet_asks_the_crm_nothing_of_its_own(
        world: OutgoingWorld, crm_org: Organisation) -> None:
    world.publish(settings={"outgoing_poll_seconds": 0.05})
    poller = _poller(world, [])
    alice = world.lane(ALICE)._assignment.crm_mailbox_id
    assert not poller.quiet(DEPLOYMENT, alice), "not running yet: a lane asks for itself"
    poller.start()
    try:
        deadline = time.monotonic() + 20
        while not poller.covers(DEPLOYMENT) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert poller.quiet(DEPLOYMENT, alice)
        world.pending(crm_org.alice, CAROL)
        poller.poll()
        assert not poller.quiet(DEPLOYMENT, alice), "the poll found mail: the lane claims it"
    finally:
        poller.close()


def test_a_mailbox_watched_after_a_poll_is_polled_without_waiting_a_cycle(
        world: OutgoingWorld, crm_org: Organisation) -> None:
    """The service builds its lanes one after the other: those built after the first poll must not wait
    a whole ``outgoing_poll_seconds`` for their mail."""
    world.publish(settings={"outgoing_poll_seconds": 3600})
    world.lane(ALICE)
    assert world.resources is not None and world.config is not None
    woken: list[LaneKey] = []
    poller = PendingSendPoller(world.resources, lambda key: woken.append(key) is None)

    def watch(address: str) -> None:
        assignment = world.lane(address)._assignment
        poller.watch(Member(LaneKey(address, Direction.OUTGOING), assignment.crm_mailbox_id, DEPLOYMENT,
                            world.config, owner=object()))

    watch(ALICE)
    poller.start()
    try:
        deadline = time.monotonic() + 20
        while not poller.covers(DEPLOYMENT) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert poller.covers(DEPLOYMENT) and woken == []
        world.pending(crm_org.bert, CAROL)
        watch(BERT)
        while not woken and time.monotonic() < deadline:
            time.sleep(0.02)
        assert woken == [LaneKey(BERT, Direction.OUTGOING)], "woken well before the hour-long cycle"
    finally:
        poller.close()

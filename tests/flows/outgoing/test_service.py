"""The whole service as `email-router run` builds it, with the registered outgoing lanes, on real threads."""

from __future__ import annotations

import time

import pytest

from router.clock import SystemClock
from router.crm.codes import EmailStatus
from router.runtime.metrics import Metrics
from router.service.assembly import router_service
from tests.flows.outgoing.world import ALICE, CAROL, OutgoingWorld
from tests.support.crm import Organisation

pytestmark = pytest.mark.flow

WAIT_SECONDS = 20.0
"""Upper bound on waiting for the service's threads; a passing run needs a fraction of a second."""


def test_the_running_service_sends_pending_mail_and_counts_it(world: OutgoingWorld,
                                                              crm_org: Organisation) -> None:
    world.grant("full_access")
    world.grant("send_as")
    config = world.publish(settings={"scheduling_period_seconds": 0.05})
    email_id = world.pending(crm_org.alice, CAROL)
    clock, metrics = SystemClock(), Metrics()
    service = router_service(world.home, clock, metrics)
    service.start(config)
    try:
        deadline = time.monotonic() + WAIT_SECONDS
        while world.status(email_id) is not EmailStatus.SENT and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        assert service.stop(grace=WAIT_SECONDS)
    assert world.status(email_id) is EmailStatus.SENT
    assert len(world.journal(world.row(email_id)["messageid"])) == 1
    exposition = metrics.exposition().decode()
    assert f'email_router_sends_total{{mailbox="{ALICE}"}} 1.0' in exposition


def test_mail_composed_while_every_lane_sleeps_is_found_by_the_deployment_poll(
        world: OutgoingWorld, crm_org: Organisation) -> None:
    world.grant("full_access")
    world.grant("send_as")
    config = world.publish(settings={"scheduling_period_seconds": 0.05, "sweep_interval_seconds": 3600,
                                     "outgoing_poll_seconds": 0.2})
    service = router_service(world.home, SystemClock(), Metrics())
    service.start(config)
    try:
        deadline = time.monotonic() + WAIT_SECONDS
        while any(lane.last is None for lane in service.lanes()) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert all(lane.last is not None for lane in service.lanes()), "every lane ran once and went to sleep"
        email_id = world.pending(crm_org.alice, CAROL)
        while world.status(email_id) is not EmailStatus.SENT and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        assert service.stop(grace=WAIT_SECONDS)
    assert world.status(email_id) is EmailStatus.SENT, "the poll woke Alice's lane long before its sweep"
    assert len(world.journal(world.row(email_id)["messageid"])) == 1

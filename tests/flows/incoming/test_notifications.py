"""Low latency: streaming notifications wake a lane long before its idle back-off would; when they
drop, the periodic sweep still finds every message."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest

from router.clock import SystemClock
from router.config import Direction
from router.ews import AccountFactory
from router.pipeline.incoming.notifications import NotificationHub, Watch
from router.runtime.connections import connection_spec
from router.runtime.lane import LaneKey
from router.runtime.metrics import Metrics
from router.runtime.outcome import RunReport
from router.service.observer import NullObserver
from router.service.service import Service
from router.service.wiring import lane_work_registry
from tests.flows.incoming.rig import ALICE, BERT, CAROL, SALES, Rig, binding

pytestmark = pytest.mark.flow

KEY = LaneKey(ALICE, Direction.INCOMING)
PATIENCE = 20.0
"""Longest wait for something the service does on its own; never reached when it works."""


class Runs(NullObserver):
    """Counts the finished runs of the lane."""

    def __init__(self) -> None:
        self.count = 0
        self.changed = threading.Condition()

    def run_finished(self, report: RunReport) -> None:
        with self.changed:
            self.count += 1
            self.changed.notify_all()


def eventually(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + PATIENCE
    while not check():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.05)


@pytest.fixture
def service(rig: Rig) -> Iterator[tuple[Service, Runs]]:
    runs = Runs()
    clock, metrics = SystemClock(), Metrics()
    running = Service(rig.home, lane_work_registry(rig.home, clock, metrics), clock=clock, metrics=metrics,
                      observers=[runs])
    yield running, runs
    running.stop(5.0)


def streams(rig: Rig) -> int:
    return sum(1 for s in rig.sim.store.events.subscriptions.values() if s.streaming)


def test_a_notification_wakes_the_lane_before_its_idle_back_off(rig: Rig,
                                                                 service: tuple[Service, Runs]) -> None:
    rig.publish(binding("users", ALICE), period=30.0)
    running, runs = service
    running.start()
    # The first run subscribes, then finds nothing; a notification is what wakes the lane next.
    eventually(lambda: streams(rig) == 1 and runs.count >= 1, "the subscription and the first run")
    eventually(lambda: running.lanes()[0].running_for is None, "the first run to end")
    [lane] = running.lanes()
    assert lane.due_in is not None and lane.due_in > PATIENCE, "idle: the sweep would come much later"
    rig.sim.control.inject(ALICE, from_=CAROL, to=[ALICE], subject="Urgent", body="now",
                           message_id="<urgent@fabrikam.com>")
    eventually(lambda: rig.sim.control.messages(ALICE)[0].categories == ["Tracked to Dynamics 365"],
               "the notified delivery and its acknowledgement")
    assert len(rig.activities("<urgent@fabrikam.com>")) == 1


def test_when_notifications_drop_the_sweep_still_finds_every_message(rig: Rig,
                                                                      service: tuple[Service, Runs]) -> None:
    rig.publish(binding("users", ALICE))
    rig.sim.control.fault("drop", "Subscribe", rate=1.0)
    running, runs = service
    running.start()
    eventually(lambda: runs.count >= 1, "the first run")
    for n in range(3):
        rig.sim.control.inject(ALICE, from_=CAROL, to=[ALICE], subject=f"Quiet {n}", body="polling",
                               message_id=f"<quiet{n}@fabrikam.com>")
    eventually(lambda: all(rig.activities(f"<quiet{n}@fabrikam.com>") for n in range(3)), "the sweep")
    assert streams(rig) == 0, "no notification ever arrived"


def test_the_hub_bounds_its_connections_and_ends_them_at_close(rig: Rig) -> None:
    config = rig.publish(binding("users", ALICE) + binding("users", BERT) + binding("queues", SALES))
    woken: list[LaneKey] = []
    with AccountFactory(SystemClock()) as accounts:
        hub = NotificationHub(accounts, lambda key: woken.append(key) is None, per_connection=2)
        specs = {a.address: connection_spec(config, a, Direction.INCOMING)
                 for a in config.profiles.mailboxes()}
        watches = {address: Watch(LaneKey(address, Direction.INCOMING), spec, "Inbox", 1)
                   for address, spec in specs.items()}
        assert hub.watch(watches[ALICE], limit=1) and hub.watch(watches[BERT], limit=1)
        assert not hub.watch(watches[SALES], limit=1), "one connection of two subscriptions is full"
        eventually(lambda: streams(rig) == 2 and len(set(woken)) == 2, "the subscriptions and catch-up wakes")
        assert hub.connections() == 1
        hub.unwatch(watches[BERT].key)
        assert hub.watch(watches[SALES], limit=1)
        eventually(lambda: hub.streaming(watches[SALES].key), "SALES in BERT's place")
        hub.close()
        assert hub.watching() == frozenset() and hub.connections() == 0
        assert not hub.watch(watches[BERT], limit=5), "a closed hub starts nothing"

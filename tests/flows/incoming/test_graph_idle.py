"""An idle Graph mailbox in the running service: its lane sleeps until its sweep, and the delta poller
(Graph's stand-in for notifications, many mailboxes to a $batch) wakes it when mail arrives."""

from __future__ import annotations

import pytest

from router.service.service import Service
from tests.flows.incoming.rig import ALICE, BERT, CAROL, Rig, binding
from tests.flows.incoming.test_notifications import PATIENCE, Runs, eventually, service

pytestmark = pytest.mark.flow
__all__ = ["service"]
POLL = "[settings.incoming]\ngraph_poll_seconds = 0.5\n"


def test_the_delta_poller_wakes_an_idle_graph_lane_long_before_its_sweep(
        rig: Rig, service: tuple[Service, Runs]) -> None:
    rig.publish(binding("users", ALICE) + binding("users", BERT), settings=POLL, period=30.0, graph=True)
    running, runs = service
    running.start()
    eventually(lambda: runs.count >= 2 and all(lane.running_for is None for lane in running.lanes()),
               "every lane's first run")
    assert all(lane.due_in is not None and lane.due_in > PATIENCE for lane in running.lanes()), \
        "idle and watched: the sweep would come much later"
    eventually(lambda: _batches(rig, steps=2) >= 2, "the poller asking about both mailboxes in one $batch")
    rig.sim.control.inject(ALICE, from_=CAROL, to=[ALICE], subject="Urgent", body="now",
                           message_id="<urgent@fabrikam.com>")
    eventually(lambda: rig.sim.control.messages(ALICE)[0].categories == ["Tracked to Dynamics 365"],
               "the woken delivery and its acknowledgement")
    assert len(rig.activities("<urgent@fabrikam.com>")) == 1


def test_without_notifications_idle_graph_lanes_are_not_watched(
        rig: Rig, service: tuple[Service, Runs]) -> None:
    rig.publish(binding("users", ALICE), settings=POLL + "notification_streams = 0\n", graph=True)
    running, runs = service
    running.start()
    eventually(lambda: runs.count >= 3, "the idle lane backing off step by step")
    assert _batches(rig) == 0, "no mail, so every $batch would be the poller's"
    rig.sim.control.inject(ALICE, from_=CAROL, to=[ALICE], subject="Polled", body="by the lane",
                           message_id="<polled@fabrikam.com>")
    eventually(lambda: len(rig.activities("<polled@fabrikam.com>")) == 1, "the lane's own poll")


def _batches(rig: Rig, steps: int | None = None) -> int:
    """$batch requests (of ``steps`` steps, when given) served so far."""
    return sum(1 for r in rig.sim.control.graph_requests()
               if r.operation == "graph.batch" and (steps is None or r.code == str(steps)))

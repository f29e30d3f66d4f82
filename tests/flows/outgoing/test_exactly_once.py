"""Never twice, never lost: a router killed (SIGKILL) at any step of a send, then run again.

The first run happens in a subprocess that kills itself at the step under test; the second run is the
service's recovery, in this process, after SendingStatusDelay (when the CRM hands back what was left in
Sending). Whatever the step, each email is delivered exactly once (the simulator's journal), the CRM
shows it Sent with the Message-ID that was delivered, and the send record is final.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from router.pipeline.outgoing.steps import Step
from tests.flows.outgoing.once_kit import KILL_STEPS, assert_left_at, assert_sent_once
from tests.flows.outgoing.world import ALICE, BERT, CAROL, SVC, OutgoingWorld
from tests.support.crm import Organisation

pytestmark = pytest.mark.flow

REPO = Path(__file__).resolve().parents[3]
SENDING_STATUS_DELAY = 1801.0
"""A little past SendingStatusDelay (and past the send records' lease)."""


def run_killed(world: OutgoingWorld, step: Step) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "tests.flows.outgoing.lane_runner", str(world.home.root), ALICE,
               step.value, world.clock.now().isoformat()]
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.slow
@pytest.mark.parametrize("step", KILL_STEPS)
@pytest.mark.parametrize("transport", ["ews", "graph"])
def test_killed_at_any_step_each_email_leaves_exactly_once(world: OutgoingWorld, crm_org: Organisation,
                                                           step: Step, transport: str) -> None:
    world.grant("full_access")
    world.grant("send_as")
    graph = transport == "graph"
    world.publish(graph=graph, service_mailbox=SVC if graph else None)
    sent_items = SVC if graph else ALICE  # Graph keeps the copy in the calling mailbox's Sent Items
    ids = [world.pending(crm_org.alice, CAROL, BERT, subject=f"Quote {n}") for n in (1, 2)]
    killed = run_killed(world, step)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    with world.store() as store:
        assert_left_at(world, store, ids, step)

    world.clock.advance(SENDING_STATUS_DELAY)
    for _ in range(3):
        world.run(ALICE)

    with world.store() as store:
        assert_sent_once(world, store, ids, sent_items)

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

from router.crm.codes import EmailStatus
from router.pipeline.outgoing.steps import Step
from router.state import SendStage
from tests.flows.outgoing.world import ALICE, BERT, CAROL, SVC, OutgoingWorld
from tests.support.crm import Organisation

pytestmark = pytest.mark.flow

REPO = Path(__file__).resolve().parents[3]
LEFT_AT = {Step.CLAIMED: SendStage.CLAIMED, Step.RENDERED: SendStage.RENDERED,
           Step.SUBMITTED: SendStage.RENDERED, Step.SUBMISSION_RECORDED: SendStage.SUBMITTED,
           Step.MARKED_SENT: SendStage.SUBMITTED, Step.FINISHED: SendStage.RECORDED}
"""The send records' stage after a kill at each step of the first email: the two emails are one batch,
whose every state write covers both, so both records are there. At SUBMITTED the first message left
while its record still says RENDERED, so only the Sent Items search can tell."""
REACHED_EXCHANGE = {Step.CLAIMED: 0, Step.RENDERED: 0, Step.SUBMITTED: 1, Step.SUBMISSION_RECORDED: 2,
                    Step.MARKED_SENT: 2, Step.FINISHED: 2}
"""Messages that had left at the kill: the batch submits all its emails before it records any
submission, so a kill at the first email's SUBMITTED has sent one over Graph (one email a request)
and both over EWS (one CreateItem carries the batch), any later kill both."""
SENDING_STATUS_DELAY = 1801.0
"""A little past SendingStatusDelay (and past the send records' lease)."""


def run_killed(world: OutgoingWorld, step: Step) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "tests.flows.outgoing.lane_runner", str(world.home.root), ALICE,
               step.value, world.clock.now().isoformat()]
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.slow
@pytest.mark.parametrize("step", [Step.CLAIMED, Step.RENDERED, Step.SUBMITTED, Step.SUBMISSION_RECORDED,
                                  Step.MARKED_SENT, Step.FINISHED])
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
    one_request = step is Step.SUBMITTED and not graph
    assert len(world.journal()) == (2 if one_request else REACHED_EXCHANGE[step])
    with world.store() as store:
        left = [store.sends.by_email_id(email_id) for email_id in ids]
        assert [r.stage if r else None for r in left] == [LEFT_AT[step]] * 2
    marked = step in (Step.MARKED_SENT, Step.FINISHED)
    assert [world.status(email_id) for email_id in ids] == [
        EmailStatus.SENT if marked else EmailStatus.SENDING] * 2

    world.clock.advance(SENDING_STATUS_DELAY)
    for _ in range(3):
        world.run(ALICE)

    rows = [world.row(email_id) for email_id in ids]
    assert [EmailStatus(row["statuscode"]) for row in rows] == [EmailStatus.SENT] * 2
    for row in rows:
        assert len(world.journal(row["messageid"])) == 1, "delivered once outside the organisation"
        assert [m["Message-ID"] for m in world.inbox(BERT)].count(row["messageid"]) == 1
        assert [m["Message-ID"] for m in world.inbox(sent_items, "sentitems")].count(row["messageid"]) == 1
    assert len(world.journal()) == 2
    with world.store() as store:
        records = [store.sends.by_email_id(email_id) for email_id in ids]
        assert [r.stage if r else None for r in records] == [SendStage.RECORDED] * 2
        assert [r.message_id if r else None for r in records] == [row["messageid"] for row in rows]

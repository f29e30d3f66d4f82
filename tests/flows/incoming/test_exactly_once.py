"""Exactly once: a worker killed (SIGKILL) at each step re-runs to the same result.

A child process runs the lane against the simulator this process runs, and kills itself at one step
boundary. Then the lane runs again here, with a clock past the dead worker's claim leases (a restart
some minutes later). Every message must then be in the CRM exactly once, acknowledged on the server,
and final in the ledger; nothing may be lost or quarantined.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from router.config.settings import SystemSettings
from router.pipeline.incoming.checkpoints import Step
from router.service.instance import InstanceRun
from router.state import LedgerStage
from router.state.instances import RunIdentity, default_instance_name
from router.state.schema import incoming_ledger
from tests.flows.incoming.once_kit import (
    KILL_POINTS,
    assert_delivered_once,
    crm_audit,
    in_crm_at_kill,
    redelivered_after_kill,
)
from tests.flows.incoming.rig import ALICE, CAROL, LOGBOOK, Rig, ShiftedClock, binding

pytestmark = [pytest.mark.flow, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[3]
MESSAGES = [f"<once{n}@fabrikam.com>" for n in range(3)]
LATER = timedelta(minutes=10)
"""Past the default claim lease (5 minutes): the dead worker's claims can be taken over."""


def kill_at(rig: Rig, mailbox: str, step: Step, nth: int, *options: str, killed: bool = True) -> datetime:
    """Run the lane in a child process that SIGKILLs itself the ``nth`` time it reaches ``step``.

    Returns a moment just after the kill (for the delivery audit).
    """
    child = subprocess.run([sys.executable, "-m", "tests.flows.incoming.lane_child", str(rig.home.root),
                            mailbox, step.value, str(nth), *options], cwd=REPO, capture_output=True,
                           text=True, timeout=120)
    assert child.returncode == (-signal.SIGKILL if killed else 0), child.stderr
    return datetime.now(UTC)


def inject(rig: Rig, mailbox: str) -> None:
    for n, message_id in enumerate(MESSAGES):
        rig.sim.control.inject(mailbox, from_=CAROL, to=[mailbox], subject=f"Once {n}", body="only once",
                               message_id=message_id)


def assert_exactly_once(rig: Rig, mailbox: str, folder: str = "inbox",
                        kills: Sequence[datetime] = ()) -> None:
    items = {m.message_id: m for m in rig.sim.control.messages(mailbox, folder)}
    assert set(items) == set(MESSAGES), "every message is still (or now) where acknowledging put it"
    with rig.store() as store:
        assert_delivered_once(rig, store, MESSAGES, kills)
        assert store.ledger.unfinished_count(mailbox) == 0


@pytest.mark.parametrize("transport", ["ews", "graph"])
@pytest.mark.parametrize(("step", "nth"), KILL_POINTS)
def test_killed_at_each_step_the_lane_reruns_to_exactly_once(rig: Rig, step: Step, nth: int,
                                                             transport: str) -> None:
    rig.publish(graph=transport == "graph")
    inject(rig, ALICE)
    kill = kill_at(rig, ALICE, step, nth)
    unrecorded = redelivered_after_kill(step, MESSAGES)
    assert sum(len(rig.activities(m)) for m in MESSAGES) == in_crm_at_kill(step, MESSAGES)
    rig.drain(ALICE, clock=ShiftedClock(LATER))
    assert_exactly_once(rig, ALICE, kills=[kill])
    for item in rig.sim.control.messages(ALICE):
        assert item.categories == ["Tracked to Dynamics 365"]
    with rig.store() as store:
        delivers = [d for m in MESSAGES for d in store.trail.for_message_id(m) if d.stage == "deliver"]
    results = [d.result for d in delivers]
    assert results.count("delivered") == 3 - unrecorded
    # The activities the killed worker created are recovered, not reported as duplicates (#15, case 7).
    assert "duplicate" not in results
    recovered = [d for d in delivers if d.result == "recovered"]
    assert len(recovered) == unrecorded
    for decision in recovered:
        assert (decision.text or "").startswith(f"recovered: activity {decision.activity_id} was created "
                                                "by an earlier attempt that was interrupted")
    assert len(crm_audit(rig, [kill]).redeliveries) == unrecorded


@pytest.mark.parametrize("transport", ["ews", "graph"])
def test_killed_after_moving_to_storage_the_logging_mailbox_finishes_without_a_second_move(
        rig: Rig, transport: str) -> None:
    rig.publish(binding("queues", LOGBOOK, '[queues.shared_logging]\nstorage_folder = "Inbox/Logged"\n'),
                graph=transport == "graph")
    inject(rig, LOGBOOK)
    kill_at(rig, LOGBOOK, Step.ACKNOWLEDGED, 1)
    assert len(rig.sim.control.messages(LOGBOOK, "Inbox/Logged")) == 3
    rig.drain(LOGBOOK, clock=ShiftedClock(LATER))
    assert_exactly_once(rig, LOGBOOK, "Inbox/Logged")
    assert rig.sim.control.messages(LOGBOOK) == []


@pytest.mark.parametrize(("step", "stage", "final"), [
    (Step.CRM_DELIVERED, LedgerStage.QUARANTINED, "quarantined"),
    (Step.ACKNOWLEDGED, LedgerStage.ACKNOWLEDGED, "given-up"),
])
def test_a_message_that_kills_the_worker_every_time_is_given_up_not_retried_forever(
        rig: Rig, step: Step, stage: LedgerStage, final: str) -> None:
    rig.publish()
    rig.sim.control.inject(ALICE, from_=CAROL, to=[ALICE], subject="Poison", body="boom",
                           message_id="<poison@fabrikam.com>")
    # Each restart comes after the dead worker's lease ran out. With at most one crash takeover
    # allowed (five in production), the second takeover gives the message up.
    for restart in range(2):
        kill_at(rig, ALICE, step, 1, "--minutes", str(10 * restart), "--max-recoveries", "1")
    kill_at(rig, ALICE, step, 1, "--minutes", "20", "--max-recoveries", "1", killed=False)
    with rig.store() as store:
        [entry] = store.ledger.find_by_message_id("<poison@fabrikam.com>")
        last = store.trail.for_message_id("<poison@fabrikam.com>")[-1]
    assert entry.stage is stage and entry.recoveries == 2 and last.result == final
    assert "the worker died 2 times" in (last.text or "")
    assert len(rig.activities("<poison@fabrikam.com>")) == 1, "one activity, however often the worker died"
    if stage is LedgerStage.QUARANTINED:
        with rig.store() as store:
            [quarantined] = store.quarantine.entries()
        assert quarantined.reason_code == "worker-crashed" and quarantined.mime is not None
        assert rig.sim.control.messages(ALICE)[0].categories == ["Undeliverable"]


def test_a_restarted_instance_recovers_the_killed_runs_claims_without_waiting_for_the_lease(rig: Rig) -> None:
    rig.publish()
    inject(rig, ALICE)
    kill = kill_at(rig, ALICE, Step.CRM_DELIVERED, 2)
    # Without the take-back, a run right after the crash finds the dead run's claim still held.
    rig.drain(ALICE)
    with rig.store() as store:
        stuck = store.ledger.unfinished_count(ALICE)
        assert stuck >= 1
        restarted = InstanceRun(store, RunIdentity.new(default_instance_name(rig.home)), SystemSettings())
        restarted.start()
        restarted.close()
    assert restarted.taken_back == stuck
    rig.drain(ALICE)  # The real clock: no lease has run out.
    assert_exactly_once(rig, ALICE, kills=[kill])


def test_the_audit_catches_a_router_that_delivers_again_although_the_crm_keeps_one_activity(rig: Rig) -> None:
    rig.publish()
    inject(rig, ALICE)
    rig.drain(ALICE)
    assert_exactly_once(rig, ALICE)
    # Break what the audit checks: the router forgets it delivered, and delivers every message again.
    with rig.store() as store, store.db.write() as tx:
        tx.execute(update(incoming_ledger).values(stage=LedgerStage.CLAIMED.value, owner=None,
                                                  lease_until=None, retry_at=None, activity_id=None,
                                                  finished_at=None))
    rig.drain(ALICE)
    for message_id in MESSAGES:
        assert len(rig.activities(message_id)) == 1, "the CRM's duplicate check hides the second delivery"
    audit = crm_audit(rig)
    assert sorted(r.message_id for r in audit.unexplained) == sorted(m.lower() for m in MESSAGES)
    with pytest.raises(AssertionError):
        assert_exactly_once(rig, ALICE)

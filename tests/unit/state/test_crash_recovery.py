"""The state store's crash recovery, met by the real incoming lane killed at each step.

Nothing of the pipeline is re-implemented here: a child process runs the lane the service builds
(``IncomingLanes`` over a published home, the EWS simulator over HTTPS, the embedded CRM's real
CheckIncomingEmail / DeliverIncomingEmail) and SIGKILLs itself the first time the lane reaches one
step boundary. The parent then looks at what the dead worker left in the ledger, runs the lane
again with a clock past the dead worker's claim leases, and checks the store's side of recovery:
the left claim is taken over and counted once, the message ends acknowledged with exactly one CRM
activity, one "delivered" decision, and one category on the server.

``tests/flows/incoming/test_exactly_once.py`` covers several messages and the logging mailbox;
this file covers every step boundary and what the ledger holds between the crash and the restart.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from exchangelib.autodiscover import clear_cache
from exchangelib.protocol import close_connections

from router.home import Home
from router.pipeline.incoming.checkpoints import Step
from router.simulator import Controller
from router.state import LedgerStage, StateStore
from tests.flows.incoming.rig import ALICE, CAROL, Rig, ShiftedClock, make_rig
from tests.support.ews_simulator import ews_schema, ews_simulator, ews_tls_dir

__all__ = ["ews_schema", "ews_simulator", "ews_tls_dir"]

pytestmark = [pytest.mark.flow, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[3]
KEY = "<crash@fabrikam.com>"
LATER = timedelta(minutes=10)
"""Past the default claim lease (5 minutes): the dead worker's claim can be taken over."""
TRACKED = "Tracked to Dynamics 365"

LEFT_BY_THE_CRASH: dict[Step, LedgerStage | None] = {
    Step.FETCHED: None,
    Step.CRM_DELIVERED: LedgerStage.CLAIMED,
    Step.RECORDED: LedgerStage.DELIVERED,
    Step.ACKNOWLEDGED: LedgerStage.DELIVERED,
    Step.FINISHED: LedgerStage.ACKNOWLEDGED,
}
"""The ledger row the dead worker leaves: none before the claim; else the stage last committed."""


@pytest.fixture
def rig(home: Home, ews_simulator: Controller, tmp_path: Path) -> Iterator[Rig]:
    made = make_rig(home, ews_simulator, tmp_path)
    yield made
    made.crm.close()
    close_connections()
    clear_cache()


def kill_lane_at(rig: Rig, step: Step) -> None:
    """Run Alice's lane in a child process that SIGKILLs itself the first time it reaches ``step``."""
    child = subprocess.run([sys.executable, "-m", "tests.flows.incoming.lane_child", str(rig.home.root),
                            ALICE, step.value, "1"], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert child.returncode == -signal.SIGKILL, child.stderr


@pytest.mark.parametrize("step", list(Step))
def test_a_lane_killed_at_any_step_reruns_to_the_same_result(rig: Rig, step: Step) -> None:
    rig.publish()
    rig.sim.control.inject(ALICE, from_=CAROL, to=[ALICE], subject="Crash", body="once", message_id=KEY)
    kill_lane_at(rig, step)

    with rig.store() as store:
        left = store.ledger.find_by_message_id(KEY)
        assert [entry.stage for entry in left] == [s for s in [LEFT_BY_THE_CRASH[step]] if s is not None]
        assert store.ledger.pending(ALICE) == [], "the dead worker's lease still runs: not yet due"
    unfinished = LEFT_BY_THE_CRASH[step] not in (None, LedgerStage.ACKNOWLEDGED)
    with StateStore.open_home(rig.home, ShiftedClock(LATER)) as later:
        assert [e.message_key for e in later.ledger.pending(ALICE)] == ([KEY] if unfinished else [])
    assert len(rig.activities(KEY)) == (0 if step is Step.FETCHED else 1)

    rig.drain(ALICE, clock=ShiftedClock(LATER))

    [activity] = rig.activities(KEY)
    with rig.store() as store:
        [entry] = store.ledger.find_by_message_id(KEY)
        assert entry.stage is LedgerStage.ACKNOWLEDGED and entry.activity_id == activity
        assert entry.recoveries == (1 if unfinished else 0), "a claim left by the dead worker is counted"
        assert store.ledger.pending(ALICE) == []
        assert store.quarantine.entries(status=None) == []
        delivered = [d for d in store.trail.for_message_id(KEY) if d.result == "delivered"]
    assert len(delivered) == (0 if step is Step.CRM_DELIVERED else 1)
    [item] = rig.sim.control.messages(ALICE)
    assert item.message_id == KEY and item.categories == [TRACKED]


def test_an_uncrashed_lane_delivers_once_and_a_second_run_finds_nothing_to_do(rig: Rig) -> None:
    rig.publish()
    rig.sim.control.inject(ALICE, from_=CAROL, to=[ALICE], subject="Calm", body="once", message_id=KEY)
    assert rig.drain(ALICE).processed == 1
    assert rig.drain(ALICE).processed == 0
    assert len(rig.activities(KEY)) == 1
    with rig.store() as store:
        [entry] = store.ledger.find_by_message_id(KEY)
    assert entry.stage is LedgerStage.ACKNOWLEDGED and entry.recoveries == 0

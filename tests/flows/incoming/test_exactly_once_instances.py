"""Exactly once with three router instances on one PostgreSQL database, one of them killed or frozen.

The single-instance tests (``test_exactly_once``) kill a worker at each step and re-run the lane later.
Here instance ``router-0`` serves the mailbox's lane in a child process (``fleet_child``) under a real
lane lease and is SIGKILLed at each step — or SIGSTOPped past its lease right after ``ensure_lease``
passed, before its batch's Check/Deliver call went out, and SIGCONTed once another instance has delivered.
Instances ``router-1`` and ``router-2`` race for the lane once the lease runs out (one wins; the other
finds it held); the winner drains it. Deliveries are counted from the CRM's call journal: every
message once, and only a kill between the CRM's commit and the ledger's record may deliver again.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from router.clock import SystemClock
from router.crm.embedded import EmbeddedCrm
from router.crm.embedded.journal import DeliveryAudit, audit_deliveries, entries
from router.pipeline.incoming.checkpoints import Step
from router.state import LedgerStage, StateStore
from tests.flows.incoming.fleet_child import BEFORE_DELIVER
from tests.flows.incoming.fleet_kit import LEASE_SECONDS, LeasedLane
from tests.flows.incoming.rig import ALICE, CAROL, Rig

pytestmark = [pytest.mark.flow, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[3]
MESSAGES = [f"<fleet{n}@fabrikam.com>" for n in range(3)]
SETTLE_SECONDS = 2.0
"""The heir's wait for the old holder's calls past its lease (70 s against Dynamics; short here)."""


CALL_SECONDS = LEASE_SECONDS / 3 + SETTLE_SECONDS
"""The heirs' bound on a call: they recover the old holder's messages SETTLE_SECONDS past its lease."""


@pytest.fixture
def published(rig: Rig) -> Iterator[Rig]:
    rig.publish()
    for n, message_id in enumerate(MESSAGES):
        rig.sim.control.inject(ALICE, from_=CAROL, to=[ALICE], subject=f"Fleet {n}", body="only once",
                               message_id=message_id)
    yield rig


def child(rig: Rig, url: str, action: str, step: str, nth: int) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "tests.flows.incoming.fleet_child", str(rig.home.root),
                             url, "router-0", ALICE, action, step, str(nth)], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_stopped(process: subprocess.Popen[str], timeout: float = 120) -> None:
    """Wait until ``process`` froze (SIGSTOP) — it must not have finished instead."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = Path(f"/proc/{process.pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        if state == "T":
            return
        assert process.poll() is None, process.communicate()
        time.sleep(0.05)
    raise AssertionError("the child never froze")


def heirs_take_over(rig: Rig, url: str) -> None:
    """Instances router-1 and router-2 race for the lane; the one that wins drains it."""
    one = LeasedLane(rig.home, url, "router-1", ALICE, call_seconds=CALL_SECONDS).start()
    two = LeasedLane(rig.home, url, "router-2", ALICE, call_seconds=CALL_SECONDS).start()
    try:
        deadline = time.monotonic() + 4 * LEASE_SECONDS
        while not (one.holds() or two.holds()):
            assert time.monotonic() < deadline, "no instance took the lane over"
            time.sleep(0.1)
        winner, loser = (one, two) if one.holds() else (two, one)
        assert not loser.holds(), "two instances hold the lane at once"
        winner.drain(lambda: all_final(url), timeout=120)
        assert loser.run().processed == 0  # The lane is not the loser's: its run does nothing.
    finally:
        one.close()
        two.close()


def all_final(url: str) -> bool:
    with StateStore.open(url, SystemClock()) as store:
        return all(entry.stage is LedgerStage.ACKNOWLEDGED for m in MESSAGES
                   for entry in store.ledger.find_by_message_id(m)) and all(
            store.ledger.find_by_message_id(m) for m in MESSAGES)


def crm_audit(rig: Rig, kills: list[datetime]) -> DeliveryAudit:
    with EmbeddedCrm(rig.home.crm_db) as crm, crm.reading() as conn:
        return audit_deliveries(entries(conn), kills)


def assert_exactly_once(rig: Rig, url: str, kills: list[datetime]) -> DeliveryAudit:
    audit = crm_audit(rig, kills)
    assert audit.duplicates == 0 and audit.unexplained == [], audit
    for message_id in MESSAGES:
        assert audit.delivered.get(message_id.lower()) == 1, message_id
        assert len(rig.activities(message_id)) == 1, message_id
    with StateStore.open(url, SystemClock()) as store:
        for message_id in MESSAGES:
            [entry] = store.ledger.find_by_message_id(message_id)
            assert entry.stage is LedgerStage.ACKNOWLEDGED, entry
            assert entry.activity_id == rig.activities(message_id)[0]
        assert store.quarantine.entries(status=None) == []
    for item in rig.sim.control.messages(ALICE):
        assert item.categories == ["Tracked to Dynamics 365"]
    return audit


@pytest.mark.parametrize(("step", "nth"), [
    (Step.FETCHED, 1),
    (Step.CRM_DELIVERED, 1),
    (Step.CRM_DELIVERED, 2),
    (Step.RECORDED, 1),
    (Step.ACKNOWLEDGED, 1),
])
def test_an_instance_killed_at_each_step_leaves_the_others_exactly_once(published: Rig, postgres_url: str,
                                                                      step: Step, nth: int) -> None:
    killed = child(published, postgres_url, "kill", step.value, nth)
    _, err = killed.communicate(timeout=120)
    assert killed.returncode == -signal.SIGKILL, err
    kill = datetime.now(UTC)
    delivered_before = sum(len(published.activities(m)) for m in MESSAGES)
    # The fetched batch is checked and delivered in one CRM call and recorded afterwards: at any
    # CRM_DELIVERED (an answer being concluded) all three are in the CRM and none is recorded yet.
    assert delivered_before == (0 if step is Step.FETCHED else len(MESSAGES))
    heirs_take_over(published, postgres_url)
    audit = assert_exactly_once(published, postgres_url, [kill])
    # Only the kill between the CRM's commit and the ledger's record makes the heir deliver again.
    assert len(audit.redeliveries) == (len(MESSAGES) if step is Step.CRM_DELIVERED else 0)


def test_an_instance_frozen_past_its_lease_before_a_delivery_delivers_nothing_when_it_wakes(
        published: Rig, postgres_url: str) -> None:
    frozen = child(published, postgres_url, "stop", BEFORE_DELIVER, 1)
    try:
        wait_stopped(frozen)
        pause = datetime.now(UTC)
        assert sum(len(published.activities(m)) for m in MESSAGES) == 0  # Frozen before its batch's call.
        heirs_take_over(published, postgres_url)  # Its lease runs out; another instance delivers the rest.
        os.kill(frozen.pid, signal.SIGCONT)
        out, err = frozen.communicate(timeout=60)
    finally:
        if frozen.poll() is None:
            os.kill(frozen.pid, signal.SIGCONT)
            frozen.kill()
    # Woken, it went on to its Check/Deliver call with the old token; the CRM refused it, leaving no trace.
    assert frozen.returncode == 0 and "woke before delivering" in out and "lost the lane" in out, err
    audit = assert_exactly_once(published, postgres_url, [pause])
    assert audit.redeliveries == []  # Not even an explained one: nothing was delivered twice.
    with EmbeddedCrm(published.home.crm_db) as crm, crm.reading() as conn:
        tokens = {e.fence.token for e in entries(conn) if e.fence is not None}
    assert len(tokens) == 1, "only the heir's token reached the journal: the frozen call was refused"

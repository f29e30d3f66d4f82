"""Load Data into lanes with the real service, and `email-router status` reading what it recorded.

The CRM decides which mailboxes the router serves (approval, delivery methods); the profiles decide how
(overrides, switched-off directions). Approving a mailbox in the CRM adds its lanes at the next refresh.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from click.testing import CliRunner

from router.cli.main import cli
from router.crm.codes import Approval, OutgoingDeliveryMethod
from router.runtime.lane import LaneKey
from router.runtime.outcome import RunKind
from router.service.mailbox_health import FIRST_SUCCESS_FLUSH_SECONDS
from router.service.roster import NOT_IN_CRM
from tests.flows.kit import IN, OUT, Contoso, running
from tests.support.ews_simulator import ALICE, BOB, PASSWORD, QUEUE, SVC
from tests.unit.service.lanes_kit import Recorder

pytestmark = pytest.mark.flow
DAVE, GHOST = "dave@contoso.com", "ghost@contoso.com"
BINDINGS = f"""
[[queues]]
address = "{QUEUE}"
outgoing = false

[[users]]
address = "{GHOST}"
"""


@pytest.fixture
def org(contoso: Contoso) -> Contoso:
    """Alice both ways, Bob incoming only (outgoing method None), the queue switched off outgoing in the
    profiles, Dave pending approval, a binding for a ghost the CRM does not know."""
    contoso.crm.update_organization(requireapprovalforuseremail=True)
    contoso.sim.control.seed({"users": [{"address": DAVE, "name": "Dave Dunn", "password": PASSWORD}]})
    contoso.add_user(DAVE, "Dave Dunn", approval=Approval.PENDING_APPROVAL)
    contoso.crm.set_mailbox(BOB, outgoingemaildeliverymethod=int(OutgoingDeliveryMethod.NONE))
    for mailbox in (ALICE, DAVE):
        contoso.sim.control.grant("full_access", mailbox, SVC)
    contoso.publish(BINDINGS)
    return contoso


def status(org: Contoso) -> dict[str, Any]:
    result = CliRunner().invoke(cli, ["--home", str(org.home.root), "status", "--json"])
    assert result.exit_code == 0, result.output
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def settled_status(org: Contoso) -> dict[str, Any]:
    """`status` once the lanes' first successes reached the state store (the health monitor writes a
    lane's change from Not Run within FIRST_SUCCESS_FLUSH_SECONDS, batched)."""
    deadline = time.monotonic() + 10 * FIRST_SUCCESS_FLUSH_SECONDS + 5
    while True:
        document = status(org)
        lanes = [m[way] for m in document["mailboxes"] for way in ("incoming", "outgoing")
                 if m["mailbox"] == ALICE]
        if all(lane["status"] == "success" for lane in lanes) or time.monotonic() > deadline:
            return document
        time.sleep(0.1)


def test_the_crm_and_the_profiles_decide_the_lanes_and_status_explains_the_rest(org: Contoso) -> None:
    recorder = Recorder()
    with running(org, IN, OUT, recorder=recorder) as service:
        served = {LaneKey(ALICE, IN), LaneKey(ALICE, OUT), LaneKey(BOB, IN), LaneKey(QUEUE, IN)}
        assert {lane.key for lane in service.lanes()} == served
        recorder.wait_for(lambda: {r.key for r in recorder.reports} == served)
        assert {r.kind for r in recorder.reports} == {RunKind.IDLE}
        ready = service.ready()
        assert ready.ok and ready.checks["crm_load_data"]
        with org.store() as store:
            claim = store.ledger.claim(ALICE, "key-1", owner="test", internet_message_id="<m1@x>")
            store.ledger.mark_delivered(claim, "activity-1")
            store.ledger.claim(ALICE, "key-2", owner="test", internet_message_id="<m2@x>")
            send = store.sends.claim(ALICE, "email-1", owner="test", message_id="<s1@contoso.com>")
            store.sends.mark_rendered(send)
            store.sends.mark_submitted(send)

        document = settled_status(org)
        mailboxes = {m["mailbox"]: m for m in document["mailboxes"]}
        assert set(mailboxes) == {ALICE, BOB, QUEUE, DAVE, GHOST}
        assert document["config_version"] == 1 and document["alerts"] == []
        alice = mailboxes[ALICE]
        assert (alice["role"], alice["source"], alice["deployment"]) == ("user", "crm", "main")
        assert (alice["incoming"]["served"], alice["incoming"]["status"], alice["incoming"]["profile"]) == (
            True, "success", "in")
        assert alice["incoming"]["last_success"] is not None and alice["incoming"]["last_error"] is None
        assert (alice["incoming"]["backlog"], alice["outgoing"]["backlog"]) == (2, 1)
        assert alice["last_hour"]["messages_in"] == 1 and alice["last_hour"]["messages_out"] == 1
        assert alice["incoming"]["messages_last_hour"] == 1
        bob_out = mailboxes[BOB]["outgoing"]
        assert (bob_out["served"], bob_out["status"]) == (False, "not_run")
        assert "outgoing delivery method in the CRM is None" in bob_out["reason"]
        assert mailboxes[QUEUE]["outgoing"]["reason"] == "its binding in the profiles sets `outgoing = false`"
        assert mailboxes[QUEUE]["source"] == "both"
        dave_reason = mailboxes[DAVE]["incoming"]["reason"]
        assert "not approved for the router (approval: pending approval)" in dave_reason
        assert mailboxes[GHOST]["incoming"]["reason"] == NOT_IN_CRM

        org.crm.approve_mailbox(DAVE)
        summary = service.refresh_directory()
        assert summary is not None and set(summary.added) == {LaneKey(DAVE, IN), LaneKey(DAVE, OUT)}
        assert recorder.wait_runs(1, LaneKey(DAVE, OUT))[0].kind is RunKind.IDLE
        assert recorder.wait_runs(1, LaneKey(DAVE, IN))[0].kind is RunKind.IDLE

    dave = {m["mailbox"]: m for m in status(org)["mailboxes"]}[DAVE]
    assert (dave["incoming"]["served"], dave["incoming"]["status"]) == (True, "success")


def test_status_without_a_service_says_so(org: Contoso, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    runner = CliRunner()
    missing = runner.invoke(cli, ["--home", str(org.home.root), "status"])
    assert missing.exit_code == 5 and "there is no state database at" in missing.output
    assert "check --home / EMAIL_ROUTER_HOME" in missing.output and not org.home.state_db.exists()
    org.store().close()
    result = runner.invoke(cli, ["--home", str(org.home.root), "status"])
    assert result.exit_code == 0, result.output
    assert "The service has not resolved its mailboxes yet" in result.stdout
    assert "No open alerts." in result.stdout
    empty = status(org)
    assert (empty["config_version"], empty["mailboxes"], empty["alerts"]) == (None, [], [])

"""`email-router test-access` against the EWS simulator and the embedded CRM.

Rights on the simulator decide what Exchange does: Send As, Send On Behalf or nothing, against profiles
that expect Send As or delegate access. The results table, the JSON, what the CRM records and the
resume of a stopped mailbox are checked.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from click.testing import CliRunner, Result

from router.cli.main import cli
from router.crm.codes import Approval
from router.crm.facade import CrmFacade
from router.pipeline.outgoing.send_right import PROBE_SUBJECT as SEND_RIGHT_PROBE
from router.service.probe import PROBE_SUBJECT
from router.state import Direction as StateDirection
from router.state import HealthStatus
from tests.flows.kit import Contoso
from tests.support.ews_simulator import ALICE, BOB, PASSWORD, QUEUE, SVC

pytestmark = pytest.mark.flow
CAROL, DAVE, ERIN = "carol@contoso.com", "dave@contoso.com", "erin@contoso.com"
BINDINGS = (f'[[users]]\naddress = "{CAROL}"\noutgoing_profile = "out_delegate"\n\n'
            f'[[users]]\naddress = "{ERIN}"\noutgoing_profile = "out_impersonation"\n')
PROBES = (PROBE_SUBJECT, SEND_RIGHT_PROBE)


@pytest.fixture
def rights(contoso: Contoso) -> Contoso:
    """Alice: Send As; Bob: Send On Behalf (profile expects Send As); Carol: Send On Behalf with a delegate
    profile; Erin: an impersonating profile (no send right needed); the queue: no send right; Dave: not
    approved. The service account has Full Access on all."""
    sim = contoso.sim
    contoso.crm.update_organization(requireapprovalforuseremail=True)
    sim.control.seed({"users": [{"address": CAROL, "name": "Carol Cole", "password": PASSWORD},
                                {"address": DAVE, "name": "Dave Dunn", "password": PASSWORD},
                                {"address": ERIN, "name": "Erin Eve", "password": PASSWORD}]})
    contoso.add_user(CAROL, "Carol Cole")
    contoso.add_user(DAVE, "Dave Dunn", approval=Approval.PENDING_APPROVAL)
    contoso.add_user(ERIN, "Erin Eve")
    for mailbox in (ALICE, BOB, CAROL):
        sim.control.grant("full_access", mailbox, SVC)
    sim.control.grant("send_as", ALICE, SVC)
    sim.control.grant("send_on_behalf", BOB, SVC)
    sim.control.grant("send_on_behalf", CAROL, SVC)
    contoso.publish(BINDINGS)
    return contoso


def invoke(org: Contoso, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--home", str(org.home.root), "test-access", *args])


def by_mailbox(result: Result) -> dict[str, dict[str, Any]]:
    return {entry["mailbox"]: entry for entry in json.loads(result.stdout)}


def test_the_results_name_each_right_and_mismatch_and_the_crm_records_them(rights: Contoso) -> None:
    result = invoke(rights, "--json")
    assert result.exit_code == 6, result.output
    found = by_mailbox(result)
    assert set(found) == {ALICE, BOB, CAROL, DAVE, ERIN, QUEUE}
    summary = {m: (e["incoming"]["status"], e["outgoing"]["status"], e["outgoing"]["right"],
                   e["outgoing"]["expected"]) for m, e in found.items()}
    assert summary == {
        ALICE: ("Success", "Success", "send_as", "send_as"),
        BOB: ("Success", "Failure", "send_on_behalf", "send_as"),
        CAROL: ("Success", "Success", "send_on_behalf", "send_on_behalf"),
        ERIN: ("Success", "Success", None, None),
        QUEUE: ("Success", "Failure", "none", "send_as"),
        DAVE: ("Not Run", "Not Run", None, None),
    }
    bob = found[BOB]["outgoing"]["message"]
    assert f"the profile says send_as, but {SVC} holds only Send On Behalf on {BOB}" in bob
    assert 'or set access_type = "delegate"' in bob
    assert f"{SVC} holds neither Send As nor Send On Behalf on {QUEUE}" in found[QUEUE]["outgoing"]["message"]
    assert "impersonates the user, so no send right is needed" in found[ERIN]["outgoing"]["message"]
    assert "not approved for the router" in found[DAVE]["incoming"]["message"]
    assert sorted(m for m, e in found.items() if e["failed"]) == [BOB, QUEUE]
    assert f"2 of 6 mailbox(es) failed: {BOB}, {QUEUE}" in result.stderr

    statuses = {m: (r["incomingemailstatus"], r["outgoingemailstatus"], r["enabledforincomingemail"],
                    r["enabledforoutgoingemail"]) for m in (ALICE, BOB, DAVE)
                for r in [rights.mailbox(m)]}
    assert statuses == {ALICE: (1, 1, True, True), BOB: (1, 2, True, False), DAVE: (0, 0, False, False)}
    for mailbox in (ALICE, BOB, CAROL, ERIN, QUEUE, SVC):
        copies = [m for folder in ("inbox", "sent items", "drafts")
                  for m in rights.sim.control.messages(mailbox, folder)]
        assert [m for m in copies if m.subject.startswith(PROBES)] == [], mailbox


def test_the_table_shows_each_mailbox_with_what_to_do(rights: Contoso,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "250")
    result = invoke(rights, "--mailbox", BOB, "--mailbox", ALICE.upper(), "--no-record")
    assert result.exit_code == 6
    assert "Test Access (published version 1)" in result.stdout
    expected = "Success - the account holds Send As on alice@contoso.com, as profile 'out' expects"
    assert expected in result.stdout
    assert f"Failure - the profile says send_as, but {SVC} holds only Send On Behalf" in result.stdout
    assert "not recorded (--no-record)" in result.stdout and "1 of 2 mailbox(es) passed." in result.stdout
    assert rights.mailbox(ALICE)["incomingemailstatus"] == 0


def test_a_mailbox_that_was_not_tested_is_not_counted_as_passed(rights: Contoso,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "250")
    result = invoke(rights, "--mailbox", DAVE, "--mailbox", ALICE, "--no-record")
    assert result.exit_code == 0, result.output
    assert f"1 of 2 mailbox(es) passed. 1 not tested: {DAVE}." in result.stdout


def test_a_probe_round_trip_and_a_passing_test_resume_a_stopped_mailbox(rights: Contoso) -> None:
    with rights.store() as store:
        store.health.record_failure(ALICE, StateDirection.OUTGOING, error="ErrorSendAsDenied")
        store.health.stop(ALICE, StateDirection.OUTGOING, "ErrorSendAsDenied")
    result = invoke(rights, "--mailbox", ALICE, "--probe", "--json")
    assert result.exit_code == 0, result.output
    alice = by_mailbox(result)[ALICE]
    assert alice["probe"] == {"arrived": True, "seconds": alice["probe"]["seconds"], "right": "send_as"}
    assert alice["resumed"] == ["outgoing"] and alice["crm"] == "recorded; enabled for incoming and outgoing"
    with rights.store() as store:
        health = store.health.get(ALICE, StateDirection.OUTGOING)
    assert (health.stopped, health.status) == (False, HealthStatus.FAILURE)
    assert [m for m in rights.sim.control.messages(ALICE) if m.subject.startswith(PROBE_SUBJECT)] == []


def test_an_unknown_mailbox_is_a_usage_error(rights: Contoso) -> None:
    result = invoke(rights, "--mailbox", "nobody@contoso.com")
    assert result.exit_code == 2
    assert "no mailbox nobody@contoso.com in published version 1" in result.output


def test_a_crm_that_does_not_answer_load_data_leaves_the_published_bindings(
        rights: Contoso, facade: CrmFacade) -> None:
    rights.through_dynamics(facade)
    rights.publish(BINDINGS)
    facade.faults.add(503, times=50, match="GET", retry_after=0)
    result = invoke(rights, "--json")
    assert "warning: Load Data of deployment 'main' failed" in result.stderr
    assert "serving its published bindings; results cannot be recorded in that CRM" in result.stderr
    found = by_mailbox(result)
    assert set(found) == {CAROL, ERIN}
    assert all(entry["crm"] == "not recorded: the CRM does not list this mailbox" for entry in found.values())

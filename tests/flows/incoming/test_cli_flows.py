"""The admin's commands against real flows: trace, quarantine retry, backfill, rules deploy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner

from router.cli.main import cli
from router.clock import FrozenClock
from router.crm.codes import IncomingDeliveryMethod
from router.simulator import ids
from router.state import LedgerStage, QuarantineStatus
from tests.flows.incoming.rig import ALICE, BERT, CAROL, FORWARD, FRANK, Rig, binding

pytestmark = pytest.mark.flow


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner(env={"COLUMNS": "250"}).invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def test_trace_shows_screening_reason_correlation_and_activity(rig: Rig) -> None:
    rig.publish()
    rig.sim.control.inject(ALICE, from_=CAROL, to=[ALICE], subject="Hello", body="hi",
                           message_id="<hello@fabrikam.com>")
    rig.drain(ALICE)
    [activity] = rig.activities("<hello@fabrikam.com>")
    code, output = invoke("trace", "hello@fabrikam.com")
    assert code == 0
    for expected in (f"{ALICE}  incoming  screen: accepted  [reason accepted]", "deliver: delivered",
                     f"[reason sender-match]  [correlation none]  [activity {activity}]",
                     "acknowledge: acknowledged", "category 'Tracked to Dynamics 365' added"):
        assert expected in output, expected
    code, output = invoke("trace", "<nobody@nowhere.example>")
    assert code == 5 and "nothing is recorded about <nobody@nowhere.example>" in output


def test_a_quarantined_message_is_delivered_on_retry_after_the_crm_is_fixed(rig: Rig) -> None:
    rig.publish(binding("forward_mailboxes", FORWARD))
    rig.sim.control.seed({"rules": [{"mailbox": BERT, "name": "fw", "forward_as_attachment_to": [FORWARD]}]})
    rig.sim.control.inject(BERT, from_=CAROL, to=[BERT], subject="Via the forward mailbox", body="hi",
                           message_id="<fw@fabrikam.com>")
    rig.drain(FORWARD)
    code, output = invoke("quarantine", "list")
    assert code == 0 and "no-forward-mailbox-user" in output and FORWARD in output
    with rig.store() as store:
        [entry] = store.quarantine.entries()
    code, output = invoke("quarantine", "show", str(entry.id))
    assert code == 0 and "unwrap" in output and "kept copy" in output
    rig.crm.set_mailbox(BERT, incomingemaildeliverymethod=int(IncomingDeliveryMethod.FORWARD_MAILBOX))
    code, output = invoke("quarantine", "retry", str(entry.id), "--now")
    assert code == 0, output
    assert f"entry {entry.id} is now resolved" in output
    [activity] = rig.activities("<fw@fabrikam.com>")
    assert rig.crm.email(activity).row["subject"] == "Via the forward mailbox"
    [wrapper] = rig.sim.control.messages(FORWARD)
    assert wrapper.categories == ["Tracked to Dynamics 365"], "the quarantine tag was replaced"
    with rig.store() as store:
        assert store.quarantine.get(entry.id).status is QuarantineStatus.RESOLVED
    assert invoke("quarantine", "list")[1].startswith("no open quarantine entries")


def test_retry_uses_the_kept_copy_when_the_item_is_gone(rig: Rig) -> None:
    rig.publish(binding("forward_mailboxes", FORWARD))
    rig.sim.control.inject(FORWARD, from_=CAROL, to=[FORWARD], subject="Direct", body="not a wrapper",
                           message_id="<direct@fabrikam.com>")
    rig.drain(FORWARD)
    with rig.store() as store:
        [entry] = store.quarantine.entries()
    item = rig.sim.store.item(ids.decode(rig.sim.control.messages(FORWARD)[0].id).uid)
    assert item is not None
    rig.sim.store.delete(item)
    with rig.store() as store:
        store.quarantine.retry(entry.id)
    rig.drain(FORWARD)
    with rig.store() as store:
        after = store.quarantine.get(entry.id)
        [ledger] = store.ledger.find_by_message_id("<direct@fabrikam.com>")
        trail = store.trail.for_message(FORWARD, entry.message_key)
    assert after.status is QuarantineStatus.OPEN and after.retry_count == 1
    assert ledger.stage is LedgerStage.QUARANTINED
    assert [d.result for d in trail].count("quarantined") == 2


def test_backfill_imports_history_once_however_often_it_runs(rig: Rig) -> None:
    rig.publish(f'[[users]]\naddress = "{BERT}"\noutgoing = false\n')
    exchange_time = FrozenClock(datetime.now(UTC) - timedelta(hours=1))
    rig.sim.store.clock = exchange_time  # Exchange's receive times, an hour before the first run.
    for n in range(3):
        rig.sim.control.inject(BERT, from_=CAROL, to=[BERT], subject=f"old {n}", body="history",
                               message_id=f"<old{n}@fabrikam.com>")
    assert rig.drain(BERT).processed == 0, "mail older than the first sight of the mailbox is history"
    exchange_time.advance(2 * 3600)
    rig.sim.control.inject(BERT, from_=CAROL, to=[BERT], subject="new", body="now",
                           message_id="<new@fabrikam.com>")
    assert rig.drain(BERT).processed == 1
    for _ in range(2):
        code, output = invoke("backfill", BERT, "--since", "2020-01-01")
        assert code == 0, output
        assert "synchronisation restarts from the beginning" in output
    assert all(len(rig.activities(f"<old{n}@fabrikam.com>")) == 1 for n in range(3))
    assert len(rig.activities("<new@fabrikam.com>")) == 1
    assert rig.incoming_count() == 4
    code, output = invoke("backfill", "nobody@contoso.com", "--since", "2020-01-01")
    assert code == 3 and "does not serve incoming mail of nobody@contoso.com" in output
    code, output = invoke("backfill", BERT, "--since", "last tuesday")
    assert code == 2 and "is not a date" in output


def test_rules_deploy_creates_the_forwarding_rule_once_and_mail_then_flows(rig: Rig) -> None:
    rig.publish(binding("forward_mailboxes", FORWARD, "delete_after_processing = true"))
    code, output = invoke("rules", "deploy")
    assert code == 0, output
    assert FRANK in output and "created" in output
    code, output = invoke("rules", "deploy")
    assert code == 0 and "unchanged" in output and "created" not in output
    [rule] = rig.sim.store.rules[rig.sim.store.require_user(FRANK).key]
    assert [a.email for a in rule.actions.forward_as_attachment_to] == [FORWARD]
    rule.enabled = False
    code, output = invoke("rules", "deploy", "--mailbox", FRANK)
    assert code == 0 and "enabled" in output
    code, output = invoke("rules", "deploy", "--mailbox", ALICE)
    assert code == 2 and "is not a CRM user whose mail comes through a forward mailbox" in output
    rig.sim.control.inject(FRANK, from_=CAROL, to=[FRANK], subject="Through the rule", body="hi",
                           message_id="<rule@fabrikam.com>")
    rig.drain(FORWARD)
    assert len(rig.activities("<rule@fabrikam.com>")) == 1


def test_backfill_serves_a_mailbox_the_crm_lists_without_a_binding_and_says_why_others_are_not(
        rig: Rig) -> None:
    rig.publish(binding("users", ALICE))
    rig.sim.control.inject(BERT, from_=CAROL, to=[BERT], subject="old", body="history",
                           message_id="<bert-old@fabrikam.com>")
    code, output = invoke("backfill", BERT, "--since", "2020-01-01")
    assert code == 0, output
    assert len(rig.activities("<bert-old@fabrikam.com>")) == 1, "served with the deployment's default profile"
    code, output = invoke("backfill", FRANK, "--since", "2020-01-01")
    assert code == 3 and "its incoming delivery method is Forward Mailbox" in output
    code, output = invoke("backfill", "nobody@contoso.com", "--since", "2020-01-01")
    assert code == 3 and "the CRM's Load Data does not list it" in output

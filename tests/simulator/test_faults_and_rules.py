"""Scripted faults as exchangelib experiences them, Inbox rules at delivery, folders and names."""

from __future__ import annotations

import email
from email import policy

import pytest
from exchangelib.errors import (
    ErrorServerBusy,
    TransportError,
    UnauthorizedError,
)
from exchangelib.errors import (
    MalformedResponseError as ExchangelibMalformed,
)

from router.errors import SimulatorError
from router.simulator import Controller
from tests.support.ews_simulator import ALICE, BOB, QUEUE, make_account

pytestmark = pytest.mark.usefixtures("exchangelib_trust")


def test_server_busy_carries_back_off(ews_simulator: Controller) -> None:
    account = make_account(ews_simulator, ALICE)
    account.inbox.total_count  # noqa: B018  (the handshake happens before the fault is armed)
    ews_simulator.control.fault("server_busy", "FindItem", back_off_ms=1500)
    with pytest.raises(ErrorServerBusy) as caught:
        list(account.inbox.all().only("subject"))
    assert caught.value.back_off == 1.5
    assert list(account.inbox.all().only("subject")) == []


@pytest.mark.parametrize(
    ("kind", "error"),
    [
        ("http_503", ErrorServerBusy),  # FailFast re-raises ErrorInternalServerTransientError as busy
        ("http_500", ErrorServerBusy),
        ("http_401", UnauthorizedError),
        ("drop", TransportError),
        ("malformed", (ExchangelibMalformed, TransportError)),
    ],
)
def test_http_level_faults(ews_simulator: Controller, kind: str, error: type[Exception]) -> None:
    account = make_account(ews_simulator, ALICE)
    account.inbox.total_count  # noqa: B018
    ews_simulator.control.fault(kind, "FindItem", count=1)
    with pytest.raises(error) as caught:
        list(account.inbox.all().only("subject"))
    if kind.startswith("http_5"):
        assert "ErrorInternalServerTransientError" in str(caught.value)
    assert ews_simulator.control.state()["faults"] == []


def test_rate_faults_stay_until_cleared_and_slow_responses_still_answer(ews_simulator: Controller) -> None:
    ews_simulator.control.fault("slow", "GetFolder", rate=1.0, delay_seconds=0.01)
    account = make_account(ews_simulator, ALICE)
    assert account.inbox.total_count == 0
    assert len(ews_simulator.control.state()["faults"]) == 1  # type: ignore[arg-type]
    ews_simulator.control.clear_faults()
    assert ews_simulator.control.state()["faults"] == []
    with pytest.raises(SimulatorError):
        ews_simulator.control.fault("explode")


def test_forward_as_attachment_rule_sends_the_original_as_rfc822(ews_simulator: Controller) -> None:
    ews_simulator.control.seed(
        {
            "rules": [
                {
                    "mailbox": ALICE,
                    "name": "to queue",
                    "subject_contains": ["[CRM]"],
                    "forward_as_attachment_to": [QUEUE],
                }
            ]
        }
    )
    ews_simulator.control.inject(
        ALICE,
        from_="c@fabrikam.com",
        subject="[CRM] order",
        body="where is it",
        message_id="<orig@fabrikam.com>",
    )
    ews_simulator.control.inject(ALICE, from_="c@fabrikam.com", subject="private", body="not for the CRM")
    [forwarded] = ews_simulator.control.messages(QUEUE)
    assert forwarded.subject == "FW: [CRM] order"
    assert forwarded.header("X-MS-Exchange-Inbox-Rules-Loop") == ALICE
    parsed = email.message_from_bytes(forwarded.mime, policy=policy.default)
    [attached] = [p for p in parsed.walk() if p.get_content_type() == "message/rfc822"]
    inner = attached.get_payload()[0]
    assert inner["Message-ID"] == "<orig@fabrikam.com>"
    assert len(ews_simulator.control.messages(ALICE)) == 2


def test_inbox_rules_read_through_exchangelib(ews_simulator: Controller) -> None:
    ews_simulator.control.seed(
        {"rules": [{"mailbox": ALICE, "name": "to queue", "forward_as_attachment_to": [QUEUE]}]}
    )
    account = make_account(ews_simulator, ALICE)
    [rule] = account.rules
    assert rule.display_name == "to queue"
    assert [a.email_address for a in rule.actions.forward_as_attachment_to_recipients] == [QUEUE]


def test_folders_and_names(ews_simulator: Controller) -> None:
    ews_simulator.control.seed({"folders": [{"mailbox": ALICE, "path": "Inbox/CRM"}]})
    account = make_account(ews_simulator, ALICE)
    crm = account.inbox / "CRM"
    assert crm.name == "CRM"
    names = {f.name for f in account.msg_folder_root.walk()}
    assert {"Inbox", "Sent Items", "CRM"} <= names
    [resolved] = account.protocol.resolve_names(["bob"])
    assert resolved.email_address == BOB

"""Send As / Send On Behalf as Exchange decides them, driven by exchangelib and checked in the store."""

from __future__ import annotations

import pytest
from exchangelib import Mailbox, Message
from exchangelib.errors import ErrorImpersonateUserDenied, ErrorSendAsDenied

from router.simulator import Controller
from tests.support.ews_simulator import (
    ALICE,
    BOB,
    DELEGATE,
    IMPERSONATION,
    QUEUE,
    SVC,
    make_account,
)

pytestmark = pytest.mark.usefixtures("exchangelib_trust")


def _send_from_queue(sim: Controller, subject: str) -> None:
    account = make_account(sim, QUEUE, login=SVC, access_type=DELEGATE)
    msg = Message(
        account=account,
        folder=account.sent,
        subject=subject,
        body="hello",
        author=Mailbox(email_address=QUEUE),
        to_recipients=[Mailbox(email_address=BOB), Mailbox(email_address="ext@fabrikam.com")],
    )
    msg.send_and_save()


def test_send_as_stamps_from_and_sender_as_the_principal(ews_simulator: Controller) -> None:
    ews_simulator.control.grant("send_as", QUEUE, SVC)
    _send_from_queue(ews_simulator, "as queue")
    [delivered] = ews_simulator.control.messages(BOB)
    assert delivered.from_ == "Support Queue <queue@contoso.com>"
    assert delivered.header("From") == "Support Queue <queue@contoso.com>"
    assert delivered.header("Sender") is None
    assert delivered.sender == delivered.from_
    [sent] = ews_simulator.control.messages(QUEUE, "sentitems")
    assert sent.subject == "as queue"
    [remote] = ews_simulator.control.journal()
    assert remote.recipients == ("ext@fabrikam.com",)
    assert b"Sender:" not in remote.mime.split(b"\n\n")[0]


def test_send_on_behalf_stamps_the_caller_as_sender(ews_simulator: Controller) -> None:
    ews_simulator.control.grant("send_on_behalf", QUEUE, SVC)
    _send_from_queue(ews_simulator, "on behalf")
    [delivered] = ews_simulator.control.messages(BOB)
    assert delivered.header("From") == "Support Queue <queue@contoso.com>"
    assert delivered.header("Sender") == "CRM Service <svc-crm@contoso.com>"
    assert delivered.sender == "CRM Service <svc-crm@contoso.com>"
    [remote] = ews_simulator.control.journal()
    assert b"Sender: CRM Service <svc-crm@contoso.com>" in remote.mime


def test_send_as_wins_over_send_on_behalf(ews_simulator: Controller) -> None:
    ews_simulator.control.grant("send_on_behalf", QUEUE, SVC)
    ews_simulator.control.grant("send_as", QUEUE, SVC)
    _send_from_queue(ews_simulator, "both")
    [delivered] = ews_simulator.control.messages(BOB)
    assert delivered.header("Sender") is None


def test_full_access_alone_is_denied_and_leaves_a_draft(ews_simulator: Controller) -> None:
    with pytest.raises(ErrorSendAsDenied):
        _send_from_queue(ews_simulator, "denied")
    assert ews_simulator.control.messages(BOB) == []
    assert ews_simulator.control.journal() == []
    [draft] = ews_simulator.control.messages(QUEUE, "drafts")
    assert draft.subject == "denied"
    assert ews_simulator.control.messages(QUEUE, "sentitems") == []


def test_from_another_mailbox_in_own_mailbox_is_checked_too(ews_simulator: Controller) -> None:
    account = make_account(ews_simulator, BOB)
    msg = Message(
        account=account,
        subject="spoof",
        body="x",
        author=Mailbox(email_address=ALICE),
        to_recipients=[Mailbox(email_address=ALICE)],
    )
    with pytest.raises(ErrorSendAsDenied):
        msg.send()
    assert ews_simulator.control.messages(ALICE) == []


def test_impersonation_sends_as_the_impersonated_user(ews_simulator: Controller) -> None:
    account = make_account(ews_simulator, ALICE, login=SVC, access_type=IMPERSONATION)
    Message(
        account=account,
        folder=account.sent,
        subject="imp",
        body="x",
        to_recipients=[Mailbox(email_address=BOB)],
    ).send_and_save()
    [delivered] = ews_simulator.control.messages(BOB)
    assert delivered.header("From") == "Alice Adams <alice@contoso.com>"
    assert delivered.header("Sender") is None
    assert [m.subject for m in ews_simulator.control.messages(ALICE, "sentitems")] == ["imp"]
    assert ews_simulator.control.requests()[-1].impersonated


def test_impersonation_without_the_role_is_refused(ews_simulator: Controller) -> None:
    account = make_account(ews_simulator, ALICE, login=BOB, access_type=IMPERSONATION)
    with pytest.raises(ErrorImpersonateUserDenied):
        account.inbox.total_count  # noqa: B018


def test_add_delegate_grants_send_on_behalf(ews_simulator: Controller) -> None:
    from tests.simulator.raw import add_delegate

    add_delegate(ews_simulator, owner=ALICE, delegate=BOB)
    own = make_account(ews_simulator, ALICE)
    assert [d.user_id.primary_smtp_address for d in own.delegates] == [BOB]
    account = make_account(ews_simulator, ALICE, login=BOB, access_type=DELEGATE)
    Message(
        account=account,
        subject="sobo",
        body="x",
        author=Mailbox(email_address=ALICE),
        to_recipients=[Mailbox(email_address=SVC)],
    ).send(save_copy=False)
    [delivered] = ews_simulator.control.messages(SVC)
    assert delivered.header("Sender") == "Bob Brown <bob@contoso.com>"
    assert delivered.header("From") == "Alice Adams <alice@contoso.com>"

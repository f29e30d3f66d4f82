"""The other ways the router submits: MIME content, drafts then SendItem, attachments, threading headers."""

from __future__ import annotations

import email
from email import policy

import pytest
from exchangelib import FileAttachment, Mailbox, Message
from exchangelib.errors import ErrorSendAsDenied

from router.simulator import Controller
from tests.support.ews_simulator import ALICE, BOB, DELEGATE, QUEUE, SVC, make_account

pytestmark = pytest.mark.usefixtures("exchangelib_trust")

RAW = (
    b"From: Support Queue <queue@contoso.com>\r\nTo: Bob Brown <bob@contoso.com>, far@fabrikam.com\r\n"
    b"Bcc: alice@contoso.com\r\nSubject: RE: order 1042 CRM:0001011\r\n"
    b"Message-ID: <router-1@crm.contoso.com>\r\nIn-Reply-To: <cust-1@fabrikam.com>\r\n"
    b"References: <cust-1@fabrikam.com>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
    b"\r\nYour order ships today.\r\n"
)


def test_mime_submission_keeps_ids_strips_bcc_and_stamps_sender(ews_simulator: Controller) -> None:
    ews_simulator.control.grant("send_on_behalf", QUEUE, SVC)
    account = make_account(ews_simulator, QUEUE, login=SVC, access_type=DELEGATE)
    Message(account=account, folder=account.sent, mime_content=RAW).send_and_save()
    for mailbox in (BOB, ALICE):
        [got] = ews_simulator.control.messages(mailbox)
        assert got.message_id == "<router-1@crm.contoso.com>"
        assert got.in_reply_to == "<cust-1@fabrikam.com>" and got.references == "<cust-1@fabrikam.com>"
        assert got.header("Bcc") is None
        assert got.header("Sender") == "CRM Service <svc-crm@contoso.com>"
        assert got.mime.endswith(b"\r\n\r\nYour order ships today.\r\n")
    [sent] = ews_simulator.control.messages(QUEUE, "sentitems")
    assert sent.header("Bcc") == "alice@contoso.com"
    [remote] = ews_simulator.control.journal()
    assert remote.recipients == ("far@fabrikam.com",) and remote.mail_from == SVC
    assert b"Bcc:" not in remote.mime and remote.mime.startswith(b"Received: from ")


def test_bcc_recipients_next_to_mime_content_are_delivered_but_stay_invisible(
        ews_simulator: Controller) -> None:
    account = make_account(ews_simulator, ALICE)
    raw = RAW.replace(b"Bcc: alice@contoso.com\r\n", b"").replace(b"queue@", b"alice@")
    Message(account=account, folder=account.sent, mime_content=raw,
            bcc_recipients=[Mailbox(email_address=QUEUE)]).send_and_save()
    [got] = ews_simulator.control.messages(QUEUE)
    assert got.header("Bcc") is None and got.message_id == "<router-1@crm.contoso.com>"
    assert ews_simulator.control.messages(BOB)[0].header("Bcc") is None
    [sent] = ews_simulator.control.messages(ALICE, "sentitems")
    assert sent.header("Bcc") == "queue@contoso.com", "the sender's copy shows its Bcc recipients"


def test_draft_then_send_item_as_microsoft_documents_for_delegates(ews_simulator: Controller) -> None:
    ews_simulator.control.grant("send_as", QUEUE, SVC)
    account = make_account(ews_simulator, QUEUE, login=SVC, access_type=DELEGATE)
    draft = Message(
        account=account,
        folder=account.drafts,
        subject="drafted",
        body="x",
        to_recipients=[Mailbox(email_address=BOB)],
    )
    draft.save()
    assert [m.subject for m in ews_simulator.control.messages(QUEUE, "drafts")] == ["drafted"]
    draft.send()
    assert ews_simulator.control.messages(QUEUE, "drafts") == []
    [got] = ews_simulator.control.messages(BOB)
    assert got.header("From") == "Support Queue <queue@contoso.com>" and got.header("Sender") is None
    assert [m.subject for m in ews_simulator.control.messages(QUEUE, "sentitems")] == ["drafted"]


def test_draft_send_without_rights_stays_a_draft(ews_simulator: Controller) -> None:
    account = make_account(ews_simulator, QUEUE, login=SVC, access_type=DELEGATE)
    draft = Message(
        account=account,
        folder=account.drafts,
        subject="stuck",
        body="x",
        to_recipients=[Mailbox(email_address=BOB)],
    )
    draft.save()
    with pytest.raises(ErrorSendAsDenied):
        draft.send()
    assert [m.subject for m in ews_simulator.control.messages(QUEUE, "drafts")] == ["stuck"]


def test_attachments_reach_the_recipient(ews_simulator: Controller) -> None:
    account = make_account(ews_simulator, ALICE)
    msg = Message(
        account=account,
        folder=account.sent,
        subject="with file",
        body="see attached",
        to_recipients=[Mailbox(email_address=BOB)],
    )
    msg.attach(FileAttachment(name="invoice.pdf", content=b"%PDF-1.4 fake", content_type="application/pdf"))
    msg.send_and_save()
    [got] = ews_simulator.control.messages(BOB)
    parsed = email.message_from_bytes(got.mime, policy=policy.default)
    [part] = [p for p in parsed.walk() if p.get_filename() == "invoice.pdf"]
    assert part.get_content() == b"%PDF-1.4 fake"
    bob = make_account(ews_simulator, BOB)
    [item] = bob.inbox.all()
    assert item.has_attachments

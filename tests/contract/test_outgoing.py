"""SendEmail, BackgroundSendEmail claims, Sent, failed attempts, stuck Sending, tracking tokens."""

from __future__ import annotations

from datetime import timedelta

import pytest

from router.crm.codes import EmailStatus, Importance
from router.crm.gateway import Attachment, OutgoingEmail, SentEmail
from router.errors import CrmPermanentError, CrmRecordNotFoundError
from tests.contract.conftest import Target
from tests.support.crm import draft_email, incoming_email


def _pending(target: Target, *to: str, **fields: object) -> str:
    email_id = draft_email(
        target.crm, fields.pop("sender", target.org.alice), *(to or ("carol@fabrikam.com",)), **fields
    )
    target.gateway.send_email(email_id)
    return email_id


def _status(target: Target, email_id: str) -> EmailStatus:
    return EmailStatus(target.crm.email(email_id).row["statuscode"])


def test_send_email_moves_a_draft_to_pending_send_with_a_token(target: Target) -> None:
    email_id = draft_email(target.crm, target.org.alice, "carol@fabrikam.com", subject="Quote 42")
    result = target.gateway.send_email(email_id)
    assert result.status is EmailStatus.PENDING_SEND
    assert result.tracking_token == "CRM:0002001"  # Alice is user number 2, her first token
    assert result.subject == "Quote 42 CRM:0002001"
    row = target.crm.email(email_id).row
    assert (row["statecode"], row["statuscode"], row["trackingtoken"]) == (1, 6, "CRM:0002001")


def test_send_email_uses_a_given_token_and_without_issue_send_marks_sent(target: Target) -> None:
    email_id = draft_email(target.crm, target.org.alice, "carol@fabrikam.com")
    result = target.gateway.send_email(email_id, tracking_token="CRM:0777777", issue_send=False)
    assert result.status is EmailStatus.SENT and result.subject.endswith(" CRM:0777777")
    assert target.crm.email(email_id).row["senton"] == target.clock.now()


def test_tokens_follow_the_organisation_settings(target: Target) -> None:
    target.crm.update_organization(
        trackingprefix="TKT#", trackingtokenidbase=7, trackingtokeniddigits=2, maximumtrackingnumber=4
    )
    assert target.gateway.get_tracking_token("Anything") == "TKT#7010001"  # the service account is user 1
    assert target.gateway.get_tracking_token() == "TKT#7010002"


def test_sending_what_is_not_a_draft_is_refused(target: Target) -> None:
    received = target.gateway.deliver_incoming(incoming_email()).email_id
    with pytest.raises(CrmPermanentError) as caught:
        target.gateway.send_email(received)
    assert "Draft" in str(caught.value)


def test_sending_a_draft_without_recipients_is_refused(target: Target) -> None:
    email_id = draft_email(target.crm, target.org.alice)
    with pytest.raises(CrmPermanentError, match="no recipients"):
        target.gateway.send_email(email_id)


def test_sending_an_email_that_does_not_exist_is_record_not_found(target: Target) -> None:
    with pytest.raises(CrmRecordNotFoundError):
        target.gateway.send_email("0f0e0d0c-0b0a-0908-0706-050403020100")


def test_background_send_claims_pending_email_with_everything_needed_to_send(target: Target) -> None:
    attachment = Attachment("quote.pdf", "application/pdf", b"%PDF-1.7\n" + bytes(range(256)))
    email_id = _pending(
        target,
        "carol@fabrikam.com",
        "new@example.org",
        cc=("bert@contoso.com",),
        bcc=(target.org.dave,),
        subject="Quote 42",
        body="<p>Our quote</p>",
        attachments=(attachment,),
        regarding=target.org.fabrikam,
        importance=Importance.HIGH,
    )
    claimed = target.gateway.background_send(target.org.mailbox_ids, 5)
    assert [e.email_id for e in claimed] == [email_id]
    email: OutgoingEmail = claimed[0]
    assert email.subject == "Quote 42 CRM:0002001" and email.tracking_token == "CRM:0002001"
    assert email.body_html == "<p>Our quote</p>" and email.importance is Importance.HIGH
    assert email.sender.address == "alice@contoso.com" and email.sender.record == target.org.alice
    assert email.sender_mailbox_id == target.org.mailbox("alice@contoso.com")
    assert [(p.address, p.record) for p in email.to] == [
        ("carol@fabrikam.com", target.org.carol),
        ("new@example.org", None),
    ]
    assert [p.record for p in email.cc] == [target.org.bert] and [p.record for p in email.bcc] == [
        target.org.dave
    ]
    assert email.attachments == (attachment,)
    assert email.regarding == target.org.fabrikam and email.in_reply_to is None and email.references == ()
    assert _status(target, email_id) is EmailStatus.SENDING


def test_a_claimed_email_is_not_handed_out_again(target: Target) -> None:
    _pending(target)
    assert len(target.gateway.background_send(target.org.mailbox_ids, 5)) == 1
    assert target.gateway.background_send(target.org.mailbox_ids, 5) == ()


def test_background_send_takes_only_the_given_mailboxes_oldest_first_up_to_max(target: Target) -> None:
    first = _pending(target, subject="one")
    target.clock.advance(1)
    second = _pending(target, subject="two")
    _pending(target, subject="from Sales", sender=target.org.sales)
    target.clock.advance(1)
    _pending(target, subject="three")
    alice = [target.org.mailbox("alice@contoso.com")]
    assert [e.email_id for e in target.gateway.background_send(alice, 2)] == [first, second]
    assert [e.subject for e in target.gateway.background_send(alice, 5)] == ["three CRM:0002003"]
    assert target.gateway.background_send([], 5) == () and target.gateway.background_send(alice, 0) == ()


def test_a_reply_carries_the_threading_headers_of_the_mail_it_answers(target: Target) -> None:
    received = target.gateway.deliver_incoming(
        incoming_email(message_id="<q2@fabrikam.com>", in_reply_to="<q1@contoso.com>",
                       conversation_index="AQECAwQFBgcICQoLDA0ODxAREhMUFQ==")
    )
    _pending(target, subject="RE: Hello", parent_email_id=received.email_id)
    email = target.gateway.background_send(target.org.mailbox_ids, 5)[0]
    assert email.in_reply_to == "<q2@fabrikam.com>"
    assert email.references == ("<q1@contoso.com>", "<q2@fabrikam.com>")
    assert email.parent_conversation_index, "the parent's conversation index comes along for the Thread-Index"


def test_mark_sent_records_the_message_id_and_time(target: Target) -> None:
    email_id = _pending(target)
    target.gateway.background_send(target.org.mailbox_ids, 5)
    sent_on = target.clock.now() + timedelta(seconds=5)
    target.gateway.mark_sent(email_id, "<router.1@contoso.com>", sent_on)
    row = target.crm.email(email_id).row
    assert (row["statecode"], row["statuscode"], row["messageid"], row["senton"]) == (
        1,
        3,
        "<router.1@contoso.com>",
        sent_on,
    )


def test_mark_sent_many_records_each_message_id_and_time(target: Target) -> None:
    ids = [_pending(target) for _ in range(3)]
    claimed = target.gateway.background_send(target.org.mailbox_ids, 5)
    assert sorted(e.email_id for e in claimed) == sorted(ids)
    sent_on = target.clock.now() + timedelta(seconds=5)
    sent = [SentEmail(email_id, f"<router.{n}@contoso.com>", sent_on) for n, email_id in enumerate(ids)]
    target.gateway.mark_sent_many(sent)
    target.gateway.mark_sent_many(sent[:1])  # Idempotent, like mark_sent.
    target.gateway.mark_sent_many([])
    rows = [target.crm.email(email_id).row for email_id in ids]
    assert [(r["statecode"], r["statuscode"], r["messageid"], r["senton"]) for r in rows] == [
        (1, 3, f"<router.{n}@contoso.com>", sent_on) for n in range(3)
    ]


def test_marking_a_deleted_email_sent_is_record_not_found(target: Target) -> None:
    with pytest.raises(CrmRecordNotFoundError):
        target.gateway.mark_sent("0f0e0d0c-0b0a-0908-0706-050403020100", "<x@y.z>", target.clock.now())


def test_a_failed_attempt_returns_the_email_to_pending_send_after_the_delay(target: Target) -> None:
    email_id = _pending(target)
    target.gateway.background_send(target.org.mailbox_ids, 5)
    result = target.gateway.record_failed_attempt(email_id, "ErrorServerBusy", permanent=False)
    assert (result.attempts, result.status) == (1, EmailStatus.PENDING_SEND)
    assert target.gateway.background_send(target.org.mailbox_ids, 5) == ()  # PendingStatusDelay
    target.clock.advance(301)
    again = target.gateway.background_send(target.org.mailbox_ids, 5)
    assert [e.email_id for e in again] == [email_id] and again[0].delivery_attempts == 1
    notes = target.crm.email(email_id).notes
    assert (
        "ErrorServerBusy" in notes[0]["notetext"]
        and "1 attempts have been made so far" in notes[0]["notetext"]
    )


def test_the_email_fails_after_the_maximum_attempts(target: Target) -> None:
    email_id = _pending(target)
    results = [
        target.gateway.record_failed_attempt(email_id, f"try {n}", permanent=False, max_attempts=3)
        for n in range(3)
    ]
    assert [r.status for r in results] == [
        EmailStatus.PENDING_SEND,
        EmailStatus.PENDING_SEND,
        EmailStatus.FAILED,
    ]
    row = target.crm.email(email_id).row
    assert (row["statecode"], row["statuscode"], row["deliveryattempts"]) == (0, 8, 3)
    assert "must be resubmitted" in target.crm.email(email_id).notes[-1]["notetext"]


def test_a_permanent_failure_fails_at_once_and_a_resubmission_keeps_the_token(target: Target) -> None:
    email_id = _pending(target)
    failed = target.gateway.record_failed_attempt(email_id, "ErrorSendAsDenied", permanent=True)
    assert (failed.attempts, failed.status) == (1, EmailStatus.FAILED)
    again = target.gateway.send_email(email_id)
    assert again.status is EmailStatus.PENDING_SEND and again.tracking_token == "CRM:0002001"
    assert again.subject == "Quote 42 CRM:0002001" and target.crm.email(email_id).row["deliveryattempts"] == 0


def test_an_email_stuck_in_sending_is_released_after_the_sending_status_delay(target: Target) -> None:
    email_id = _pending(target)
    target.gateway.background_send(target.org.mailbox_ids, 5)
    boxes = target.org.mailbox_ids
    assert target.gateway.release_stuck_sending(boxes) == ()
    target.clock.advance(31 * 60)
    assert target.gateway.release_stuck_sending([target.org.mailbox("sales@contoso.com")]) == ()
    assert target.gateway.release_stuck_sending(boxes) == (email_id,)
    assert _status(target, email_id) is EmailStatus.PENDING_SEND
    assert [e.email_id for e in target.gateway.background_send(boxes, 5)] == [email_id]


def _unknown_mailboxes(count: int) -> list[str]:
    """Mailbox ids the CRM does not know, to make a deployment-sized list (more than a URL filter holds)."""
    return [f"00000000-0000-4000-8000-{n:012d}" for n in range(count)]


def test_pending_send_mailboxes_names_the_mailboxes_with_mail_to_send_and_claims_nothing(
    target: Target,
) -> None:
    alice, sales = target.org.mailbox("alice@contoso.com"), target.org.mailbox("sales@contoso.com")
    boxes = target.org.mailbox_ids
    assert target.gateway.pending_send_mailboxes(boxes) == frozenset()
    email_id = _pending(target)
    assert target.gateway.pending_send_mailboxes(boxes) == {alice}
    assert target.gateway.pending_send_mailboxes([sales]) == frozenset()
    assert target.gateway.pending_send_mailboxes([]) == frozenset()
    assert _status(target, email_id) is EmailStatus.PENDING_SEND, "the question claims nothing"
    assert target.gateway.pending_send_mailboxes([*_unknown_mailboxes(60), alice]) == {alice}
    target.gateway.background_send([alice], 5)
    assert target.gateway.pending_send_mailboxes(boxes) == frozenset(), "a claimed e-mail is not pending"


def test_a_deployment_sized_question_names_only_its_own_mailboxes(target: Target) -> None:
    alice, sales = target.org.mailbox("alice@contoso.com"), target.org.mailbox("sales@contoso.com")
    _pending(target, sender=target.org.sales)
    assert target.gateway.pending_send_mailboxes([*_unknown_mailboxes(60), alice]) == frozenset()
    assert target.gateway.pending_send_mailboxes([*_unknown_mailboxes(60), sales.upper()]) == {sales}
    _pending(target)
    assert target.gateway.pending_send_mailboxes([*_unknown_mailboxes(60), alice]) == {alice}


def test_pending_send_mailboxes_leaves_out_mail_tried_within_the_pending_status_delay(target: Target) -> None:
    email_id = _pending(target)
    target.gateway.background_send(target.org.mailbox_ids, 5)
    target.gateway.record_failed_attempt(email_id, "ErrorServerBusy", permanent=False)
    assert target.gateway.pending_send_mailboxes(target.org.mailbox_ids) == frozenset()
    target.clock.advance(301)
    assert target.gateway.pending_send_mailboxes(target.org.mailbox_ids) == {
        target.org.mailbox("alice@contoso.com")}


def test_stuck_sending_of_many_mailboxes_is_released_in_one_question(target: Target) -> None:
    email_id = _pending(target)
    _pending(target, sender=target.org.sales)
    alice = target.org.mailbox("alice@contoso.com")
    target.gateway.background_send(target.org.mailbox_ids, 5)
    target.clock.advance(31 * 60)
    assert target.gateway.release_stuck_sending([*_unknown_mailboxes(60), alice]) == (email_id,)
    assert _status(target, email_id) is EmailStatus.PENDING_SEND

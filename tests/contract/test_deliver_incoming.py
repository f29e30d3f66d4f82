"""DeliverIncomingEmail: one Received activity per message, parties resolved, correlated, attachments kept."""

from __future__ import annotations

import base64

from router.crm.codes import CorrelationMethod, EmailStatus, Notification, ParticipationType
from router.crm.gateway import Attachment
from router.crm.message_ids import is_derived
from tests.contract.conftest import Target
from tests.support.crm import draft_email, incoming_email


def test_delivery_creates_a_received_activity_with_resolved_parties(target: Target) -> None:
    email = incoming_email(
        to=("Alice <alice@contoso.com>", "info@fabrikam.com"),
        cc=("dave@litware.com",),
        bcc=("nobody@example.org",),
        subject="Order",
        body="<p>Order 7</p>",
    )
    result = target.gateway.deliver_incoming(email)
    assert (
        result.created_new
        and result.correlation_method is CorrelationMethod.NONE
        and result.regarding is None
    )
    view = target.crm.email(result.email_id)
    assert EmailStatus(view.row["statuscode"]) is EmailStatus.RECEIVED and view.row["statecode"] == 1
    assert view.row["directioncode"] is False and view.row["description"] == "<p>Order 7</p>"
    assert view.row["messageid"] == "<m1@fabrikam.com>" and view.row[
        "receivingmailboxid"
    ] == target.org.mailbox("alice@contoso.com")
    parties = {(role, p.address): p.record for role, p in view.parties}
    assert parties[(ParticipationType.SENDER, "carol@fabrikam.com")] == target.org.carol
    assert parties[(ParticipationType.TO_RECIPIENT, "alice@contoso.com")] == target.org.alice
    assert parties[(ParticipationType.TO_RECIPIENT, "info@fabrikam.com")] == target.org.fabrikam
    assert parties[(ParticipationType.CC_RECIPIENT, "dave@litware.com")] == target.org.dave
    assert parties[(ParticipationType.BCC_RECIPIENT, "nobody@example.org")] is None
    assert view.row["acceptingentityid"] == target.org.alice.id


def test_party_resolution_prefers_a_user_then_a_contact_over_an_account_or_lead(target: Target) -> None:
    target.crm.add_customer("lead", "Carol as a lead", "carol@fabrikam.com")
    target.crm.add_customer("account", "Carol's firm", "carol@fabrikam.com")
    target.crm.add_customer("contact", "Alice as a contact", "alice@contoso.com")
    view = target.crm.email(target.gateway.deliver_incoming(incoming_email()).email_id)
    resolved = {p.address: p.record for _, p in view.parties}
    assert resolved["carol@fabrikam.com"] == target.org.carol
    assert resolved["alice@contoso.com"] == target.org.alice


def test_an_invalid_recipient_is_kept_unresolved(target: Target) -> None:
    view = target.crm.email(
        target.gateway.deliver_incoming(incoming_email(cc=("undisclosed-recipients:;", "broken@"))).email_id
    )
    unresolved = [p.address for role, p in view.parties if p.record is None]
    assert "broken@" in unresolved


def test_delivering_twice_makes_one_activity(target: Target) -> None:
    first = target.gateway.deliver_incoming(incoming_email())
    second = target.gateway.deliver_incoming(incoming_email())
    assert second.email_id == first.email_id and not second.created_new and first.created_new
    assert len(target.crm.emails(incoming=True)) == 1


def test_the_same_message_through_a_second_recipients_mailbox_adds_that_recipient(target: Target) -> None:
    to_both = dict(to=("alice@contoso.com",), cc=("sales@contoso.com",))
    first = target.gateway.deliver_incoming(incoming_email(**to_both))
    bert_copy = target.gateway.deliver_incoming(
        incoming_email(**to_both, receiving_address="bert@contoso.com")
    )
    assert bert_copy.email_id == first.email_id and not bert_copy.created_new
    view = target.crm.email(first.email_id)
    assert (ParticipationType.BCC_RECIPIENT, "bert@contoso.com") in {(r, p.address) for r, p in view.parties}
    assert len(target.crm.emails(incoming=True)) == 1


def test_a_message_without_message_id_gets_a_stable_derived_one(target: Target) -> None:
    alice_copy = incoming_email(message_id="", to=("alice@contoso.com", "bert@contoso.com"))
    bert_copy = incoming_email(
        message_id="  ", to=("alice@contoso.com", "bert@contoso.com"), receiving_address="bert@contoso.com"
    )
    first = target.gateway.deliver_incoming(alice_copy)
    again = target.gateway.deliver_incoming(bert_copy)
    assert again.email_id == first.email_id and not again.created_new
    stored = target.crm.email(first.email_id).row["messageid"]
    assert is_derived(stored) and stored == alice_copy.crm_message_id
    different = target.gateway.deliver_incoming(incoming_email(message_id="", subject="Another"))
    assert different.created_new


def test_in_reply_to_correlation_inherits_the_regarding_record(target: Target) -> None:
    sent = draft_email(target.crm, target.org.alice, "carol@fabrikam.com", regarding=target.org.fabrikam)
    target.crm.send_email(None, sent)
    target.crm.mark_sent(None, sent, "<quote42@contoso.com>", target.clock.now())
    reply = incoming_email(subject="Re: something else", in_reply_to="<quote42@contoso.com>")
    result = target.gateway.deliver_incoming(reply)
    assert result.correlation_method is CorrelationMethod.IN_REPLY_TO
    assert result.regarding == target.org.fabrikam and result.parent_email_id == sent
    assert target.crm.email(result.email_id).row["inreplyto"] == "<quote42@contoso.com>"


def test_in_reply_to_wins_over_the_tracking_token(target: Target) -> None:
    first = draft_email(target.crm, target.org.alice, "carol@fabrikam.com", regarding=target.org.fabrikam)
    token = target.crm.send_email(None, first).tracking_token
    other = draft_email(
        target.crm, target.org.alice, "carol@fabrikam.com", subject="Other", regarding=target.org.dave
    )
    target.crm.send_email(None, other)
    target.crm.mark_sent(None, other, "<other@contoso.com>", target.clock.now())
    result = target.gateway.deliver_incoming(
        incoming_email(subject=f"RE: Quote 42 {token}", in_reply_to="<other@contoso.com>")
    )
    assert result.correlation_method is CorrelationMethod.IN_REPLY_TO and result.regarding == target.org.dave


def test_the_tracking_token_correlates_when_in_reply_to_is_unknown(target: Target) -> None:
    sent = draft_email(target.crm, target.org.alice, "carol@fabrikam.com", regarding=target.org.fabrikam)
    token = target.crm.send_email(None, sent).tracking_token
    result = target.gateway.deliver_incoming(
        incoming_email(subject=f"AW: Quote 42 {token}", in_reply_to="<unknown@elsewhere>")
    )
    assert result.correlation_method is CorrelationMethod.TRACKING_TOKEN and result.parent_email_id == sent
    assert result.regarding == target.org.fabrikam


def test_the_conversation_index_correlates_a_thread(target: Target) -> None:
    header = bytes(range(22))
    first = target.gateway.deliver_incoming(
        incoming_email(
            message_id="<t1@fabrikam.com>",
            subject="Thread",
            conversation_index=base64.b64encode(header).decode(),
        )
    )
    child = (header + b"\x01\x02\x03\x04\x05").hex()
    second = target.gateway.deliver_incoming(
        incoming_email(message_id="<t2@fabrikam.com>", subject="Different subject", conversation_index=child)
    )
    assert second.correlation_method is CorrelationMethod.CONVERSATION_INDEX
    assert second.parent_email_id == first.email_id


def test_smart_matching_needs_the_same_subject_and_enough_common_addresses(target: Target) -> None:
    first = target.gateway.deliver_incoming(
        incoming_email(message_id="<s1@fabrikam.com>", subject="Spring order", cc=("bert@contoso.com",))
    )
    matched = target.gateway.deliver_incoming(
        incoming_email(message_id="<s2@fabrikam.com>", subject="RE: FW: spring  ORDER")
    )
    assert matched.correlation_method is CorrelationMethod.SMART_MATCHING
    assert matched.parent_email_id == first.email_id
    lonely = target.gateway.deliver_incoming(
        incoming_email(
            message_id="<s3@fabrikam.com>",
            subject="Spring order",
            sender="dave@litware.com",
            to=("bert@contoso.com",),
            receiving_address="bert@contoso.com",
        )
    )
    assert lonely.correlation_method is CorrelationMethod.NONE  # only Bert in common
    target.crm.update_organization(hashminaddresscount=3)
    unmatched = target.gateway.deliver_incoming(
        incoming_email(message_id="<s4@fabrikam.com>", subject="Spring order")
    )
    assert unmatched.correlation_method is CorrelationMethod.NONE  # Carol and Alice: two, not three


def test_correlation_switched_off_is_recorded_as_skipped(target: Target) -> None:
    target.crm.update_organization(emailcorrelationenabled=False)
    result = target.gateway.deliver_incoming(incoming_email())
    assert result.correlation_method is CorrelationMethod.SKIPPED


def test_attachments_are_stored_and_oversized_ones_noted(target: Target) -> None:
    target.crm.update_organization(maxuploadfilesize=1024)
    small = Attachment("invoice.pdf", "application/pdf", b"%PDF-1.4 " * 10)
    inline = Attachment("logo.png", "image/png", bytes(range(256)), content_id="logo@contoso")
    big = Attachment("scan.tif", "image/tiff", b"\0" * 4096)
    result = target.gateway.deliver_incoming(incoming_email(attachments=(small, big, inline)))
    assert result.notifications is Notification.ATTACHMENTS_NOT_SAVED
    view = target.crm.email(result.email_id)
    assert [(a["filename"], a["filesize"], a["attachmentcontentid"]) for a in view.attachments] == [
        ("invoice.pdf", len(small.content), None),
        ("logo.png", 256, "logo@contoso"),
    ]
    assert base64.b64decode(view.attachments[1]["body"]) == inline.content
    assert view.row["attachmentcount"] == 2
    assert any("scan.tif (4096 bytes)" in note["notetext"] for note in view.notes)


def test_a_very_large_body_is_delivered_whole(target: Target) -> None:
    body = "<p>" + "x" * (3 * 1024 * 1024) + "</p>"
    result = target.gateway.deliver_incoming(incoming_email(body=body))
    assert result.notifications is Notification.NONE
    assert target.crm.email(result.email_id).row["description"] == body


def test_unicode_subject_and_body_survive(target: Target) -> None:
    email = incoming_email(subject="Grüße · 注文 ✓", body="<p>Ünïcödé 😀</p>")
    view = target.crm.email(target.gateway.deliver_incoming(email).email_id)
    assert (view.row["subject"], view.row["description"]) == ("Grüße · 注文 ✓", "<p>Ünïcödé 😀</p>")

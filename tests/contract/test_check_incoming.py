"""CheckIncomingEmail: every reason code the CRM answers, decided by the CRM from what it stores."""

from __future__ import annotations

import pytest

from router.crm.codes import Approval, FilteringMethod, ReasonCode
from tests.contract.conftest import Target
from tests.support.crm import draft_email, incoming_email


def _sent_with_token(target: Target) -> str:
    email_id = draft_email(target.crm, target.org.alice, "carol@fabrikam.com", subject="Quote 42")
    return target.crm.send_email(None, email_id).tracking_token


def test_mail_from_a_contact_to_alice_is_a_sender_match(target: Target) -> None:
    result = target.gateway.check_incoming(incoming_email())
    assert result.should_deliver and result.reason is ReasonCode.SENDER_MATCH


def test_a_recipient_accepting_all_mail_takes_an_unknown_sender(target: Target) -> None:
    result = target.gateway.check_incoming(
        incoming_email(sender="stranger@example.org", to=("bert@contoso.com",))
    )
    assert result.should_deliver and result.reason is ReasonCode.ACCEPT_ALL


def test_an_unknown_sender_is_refused_by_a_customers_only_filter(target: Target) -> None:
    result = target.gateway.check_incoming(incoming_email(sender="stranger@example.org"))
    assert not result.should_deliver and result.reason is ReasonCode.INVALID_SENDER


@pytest.mark.parametrize("sender", ["", "not an address", "@", "carol@", "<>"])
def test_an_empty_or_invalid_sender_is_invalid(target: Target, sender: str) -> None:
    result = target.gateway.check_incoming(incoming_email(sender=sender, to=("bert@contoso.com",)))
    assert not result.should_deliver and result.reason is ReasonCode.INVALID_SENDER


def test_mail_for_nobody_in_the_crm_is_no_recipient_match(target: Target) -> None:
    result = target.gateway.check_incoming(incoming_email(to=("someone@fabrikam.com",), receiving_address=""))
    assert not result.should_deliver and result.reason is ReasonCode.NO_RECIPIENT_MATCH


def test_the_receiving_mailbox_counts_as_a_recipient_when_no_header_names_it(target: Target) -> None:
    through_a_list = incoming_email(to=("all-staff@contoso.com",), receiving_address="bert@contoso.com")
    result = target.gateway.check_incoming(through_a_list)
    assert result.should_deliver and result.reason is ReasonCode.ACCEPT_ALL


def test_an_unapproved_mailbox_is_no_recipient_when_approval_is_required(target: Target) -> None:
    target.crm.update_organization(requireapprovalforuseremail=True)
    target.crm.approve_mailbox("alice@contoso.com", Approval.REJECTED)
    result = target.gateway.check_incoming(incoming_email())
    assert result.reason is ReasonCode.NO_RECIPIENT_MATCH


def test_internal_mail_is_rejected_when_the_organisation_ignores_it(target: Target) -> None:
    internal = incoming_email(sender="bert@contoso.com", to=("alice@contoso.com",))
    assert target.gateway.check_incoming(internal).should_deliver is False  # Alice takes customers only
    target.crm.update_organization(ignoreinternalemail=True)
    result = target.gateway.check_incoming(
        incoming_email(sender="alice@contoso.com", to=("bert@contoso.com",))
    )
    assert not result.should_deliver and result.reason is ReasonCode.INTERNAL_EMAIL_REJECT


def test_a_reply_carrying_a_known_token_is_a_correlation_match(target: Target) -> None:
    token = _sent_with_token(target)
    reply = incoming_email(
        sender="stranger@example.org",
        to=("support@contoso.com",),
        subject=f"RE: Quote 42 {token}",
        receiving_address="support@contoso.com",
    )
    result = target.gateway.check_incoming(reply)
    assert result.should_deliver and result.reason is ReasonCode.CORRELATION_MATCH


def test_an_unknown_token_is_no_correlation_match(target: Target) -> None:
    reply = incoming_email(
        sender="stranger@example.org",
        to=("support@contoso.com",),
        subject="RE: Quote CRM:0009999",
        receiving_address="support@contoso.com",
    )
    result = target.gateway.check_incoming(reply)
    assert not result.should_deliver and result.reason is ReasonCode.NO_CORRELATION_MATCH


def test_a_responses_only_recipient_refuses_unrelated_mail(target: Target) -> None:
    result = target.gateway.check_incoming(
        incoming_email(to=("support@contoso.com",), receiving_address="support@contoso.com")
    )
    assert not result.should_deliver and result.reason is ReasonCode.NO_CORRELATION_MATCH


def test_a_recipient_filtering_everything_out_refuses(target: Target) -> None:
    target.crm.set_filtering(target.org.bert, FilteringMethod.NONE)
    result = target.gateway.check_incoming(incoming_email(to=("bert@contoso.com",), receiving_address=""))
    assert not result.should_deliver and result.reason is ReasonCode.UNKNOWN


def test_a_message_already_tracked_is_a_duplicate(target: Target) -> None:
    email = incoming_email()
    target.gateway.deliver_incoming(email)
    result = target.gateway.check_incoming(incoming_email(receiving_address="bert@contoso.com"))
    assert not result.should_deliver and result.reason is ReasonCode.DUPLICATE


def test_a_message_id_with_awkward_characters_survives_the_wire(target: Target) -> None:
    odd = "<a+b&c;d'e#f%20?g=h@mail.example.org>"
    target.gateway.deliver_incoming(incoming_email(message_id=odd))
    assert target.gateway.check_incoming(incoming_email(message_id=odd)).reason is ReasonCode.DUPLICATE
    assert target.crm.emails(incoming=True)[0]["messageid"] == odd

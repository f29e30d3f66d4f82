"""WhoAmI, Load Data and a caller the CRM does not accept."""

from __future__ import annotations

import pytest

from router.crm.codes import Approval, FilteringMethod, IncomingDeliveryMethod, OwnerType
from router.errors import CrmPermanentError
from tests.contract.conftest import Target


def test_who_am_i_names_the_service_account(target: Target) -> None:
    identity = target.gateway.who_am_i()
    org = target.crm.organization()
    assert identity.user_id == target.org.service.id
    assert (identity.organization_id, identity.business_unit_id) == (
        org.organization_id,
        org.business_unit_id,
    )


def test_load_data_lists_router_mailboxes_users_first(target: Target) -> None:
    boxes = target.gateway.load_data()
    assert [b.address for b in boxes] == [
        "alice@contoso.com",
        "bert@contoso.com",
        "sales@contoso.com",
        "support@contoso.com",
    ]
    alice, bert, sales, support = boxes
    assert alice.owner == target.org.alice and alice.owner_type is OwnerType.SYSTEMUSER
    assert alice.filtering is FilteringMethod.FROM_LEADS_CONTACTS_ACCOUNTS
    assert bert.filtering is FilteringMethod.ALL
    assert sales.owner_type is OwnerType.QUEUE and sales.owner.name == "Sales"
    assert support.filtering is FilteringMethod.RESPONSES
    assert all(
        b.approval is Approval.APPROVED and b.approved and b.routes_incoming and b.routes_outgoing
        for b in boxes
    )
    assert alice.mailbox_id == target.org.mailbox("alice@contoso.com")


def test_load_data_leaves_out_disabled_users_and_unrouted_mailboxes(target: Target) -> None:
    target.crm.set_user_disabled(target.org.bert.id)
    target.crm.set_mailbox(
        "sales@contoso.com",
        incomingemaildeliverymethod=int(IncomingDeliveryMethod.NONE),
        outgoingemaildeliverymethod=0,
    )
    target.crm.set_mailbox(
        "support@contoso.com", incomingemaildeliverymethod=3, outgoingemaildeliverymethod=0
    )
    boxes = {b.address: b for b in target.gateway.load_data()}
    assert set(boxes) == {"alice@contoso.com", "support@contoso.com"}
    assert boxes["support@contoso.com"].incoming_method is IncomingDeliveryMethod.FORWARD_MAILBOX
    assert not boxes["support@contoso.com"].routes_outgoing


def test_load_data_reports_approval_required_and_pending(target: Target) -> None:
    target.crm.update_organization(requireapprovalforuseremail=True)
    target.crm.approve_mailbox("alice@contoso.com", Approval.PENDING_APPROVAL)
    boxes = {b.address: b for b in target.gateway.load_data()}
    assert boxes["alice@contoso.com"].approval_required and not boxes["alice@contoso.com"].approved
    assert boxes["bert@contoso.com"].approved
    assert not boxes["sales@contoso.com"].approval_required


def test_a_disabled_service_account_is_rejected_permanently(target: Target) -> None:
    target.crm.set_user_disabled(target.org.service.id)
    with pytest.raises(CrmPermanentError) as caught:
        target.gateway.load_data()
    assert not caught.value.transient
    assert "svc-router" in str(caught.value) or "403" in str(caught.value)

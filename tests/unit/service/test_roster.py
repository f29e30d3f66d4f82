"""Load Data merged with the published bindings: who is served, with which profiles, and why not."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import pytest

from router.config import Direction, MailboxRole, ProfileSet
from router.crm.codes import (
    Approval,
    FilteringMethod,
    IncomingDeliveryMethod,
    OutgoingDeliveryMethod,
    OwnerType,
)
from router.crm.gateway import MailboxInfo, RecordRef
from router.service.roster import NOT_IN_CRM, Roster, Source, build_roster

IN, OUT = Direction.INCOMING, Direction.OUTGOING
ALICE_ID = "6b1f0c2e-0000-4000-8000-000000000001"
WHEN = datetime(2026, 1, 5, tzinfo=UTC)

BASE: dict[str, Any] = {
    "profiles": {
        "in": {"direction": "incoming", "server_type": "exchange_2019", "ews_url": "https://mail.test/EWS/x",
               "auth": "ntlm", "credentials": "other_specified", "credential": "svc",
               "user_type": "administrator", "access_type": "impersonation"},
        "out": {"direction": "outgoing", "server_type": "exchange_2019", "ews_url": "https://mail.test/EWS/x",
                "auth": "ntlm", "credentials": "other_specified", "credential": "svc",
                "user_type": "administrator", "access_type": "send_as"},
        "own": {"direction": "incoming", "server_type": "exchange_2019", "ews_url": "https://mail.test/EWS/x",
                "auth": "basic", "credentials": "user_specified"},
    },
    "deployments": {"main": {"default_incoming_profile": "in", "default_outgoing_profile": "out"}},
}


def profiles(**extra: Any) -> ProfileSet:
    return ProfileSet.model_validate({**BASE, **extra})


def info(address: str, *, owner_id: str | None = None, queue: bool = False,
         incoming: IncomingDeliveryMethod = IncomingDeliveryMethod.ROUTER,
         outgoing: OutgoingDeliveryMethod = OutgoingDeliveryMethod.ROUTER,
         approval: Approval = Approval.APPROVED, required: bool = True, enabled: bool = False,
         after: datetime | None = None) -> MailboxInfo:
    owner_type = OwnerType.QUEUE if queue else OwnerType.SYSTEMUSER
    owner = RecordRef(owner_type.logical_name, owner_id or f"id-{address}", address)
    return MailboxInfo(mailbox_id=f"mbx-{address}", name=address, address=address, owner=owner,
                       owner_type=owner_type, incoming_method=incoming, outgoing_method=outgoing,
                       approval=approval, approval_required=required, filtering=FilteringMethod.ALL,
                       enabled_incoming=enabled, enabled_outgoing=enabled, process_email_received_after=after)


def reason(roster: Roster, mailbox: str, direction: Direction) -> str:
    entry = roster.entry(mailbox, direction)
    assert entry is not None
    return entry.reason


def test_a_crm_mailbox_no_file_binds_gets_the_deployment_defaults() -> None:
    roster = build_roster(profiles(), {"main": [info("alice@contoso.test", owner_id=ALICE_ID, after=WHEN)]})
    (alice,) = roster.assignments
    assert (alice.role, alice.incoming_profile, alice.outgoing_profile) == (MailboxRole.USER, "in", "out")
    assert (alice.crm_id, alice.crm_mailbox_id) == (UUID(ALICE_ID), "mbx-alice@contoso.test")
    assert (alice.incoming_credential, alice.outgoing_credential, alice.process_from) == ("svc", "svc", WHEN)
    assert {(e.direction, e.source, e.served) for e in roster.entries} == {(IN, Source.CRM, True),
                                                                          (OUT, Source.CRM, True)}


def test_a_binding_overrides_the_profiles_of_the_crm_mailbox_it_names() -> None:
    bound = profiles(queues=[{"address": "Sales@Contoso.test", "outgoing": False,
                              "process_from": "2026-02-01T00:00:00Z"}])
    roster = build_roster(bound, {"main": [info("sales@contoso.test", queue=True, after=WHEN)]})
    (sales,) = roster.assignments
    assert (sales.role, sales.incoming_profile, sales.outgoing_profile) == (MailboxRole.QUEUE, "in", None)
    assert sales.process_from == datetime(2026, 2, 1, tzinfo=UTC)
    assert reason(roster, "sales@contoso.test", OUT) == "its binding in the profiles sets `outgoing = false`"
    assert roster.entry("sales@contoso.test", IN).source is Source.BOTH  # type: ignore[union-attr]


def test_a_binding_matches_by_crm_id_before_address() -> None:
    bound = profiles(users=[{"address": "old-name@contoso.test", "crm_id": ALICE_ID, "outgoing": False}])
    roster = build_roster(bound, {"main": [info("alice@contoso.test", owner_id=ALICE_ID)]})
    (alice,) = roster.assignments
    assert (alice.address, alice.outgoing_profile) == ("old-name@contoso.test", None)


@pytest.mark.parametrize(("change", "direction", "expected"), [
    ({"approval": Approval.PENDING_APPROVAL}, IN, "not approved for the router (approval: pending approval)"),
    ({"incoming": IncomingDeliveryMethod.FORWARD_MAILBOX}, IN, "Forward Mailbox: its mail is read from"),
    ({"incoming": IncomingDeliveryMethod.OUTLOOK}, IN, "incoming delivery method in the CRM is Outlook"),
    ({"outgoing": OutgoingDeliveryMethod.NONE}, OUT, "outgoing delivery method in the CRM is None"),
])
def test_the_crm_decides_whether_a_direction_is_served(change: dict[str, Any], direction: Direction,
                                                       expected: str) -> None:
    roster = build_roster(profiles(), {"main": [info("alice@contoso.test", **change)]})
    assert expected in reason(roster, "alice@contoso.test", direction)
    other = OUT if direction is IN else IN
    approved = "approval" not in change
    assert (roster.entry("alice@contoso.test", other).served is approved)  # type: ignore[union-attr]
    assert len(roster.assignments) == (1 if approved else 0)


def test_approval_is_not_needed_when_the_organisation_does_not_require_it() -> None:
    unapproved = info("a@contoso.test", approval=Approval.EMPTY, required=False)
    roster = build_roster(profiles(), {"main": [unapproved]})
    assert [a.address for a in roster.assignments] == ["a@contoso.test"]


def test_serve_only_enabled_mailboxes_waits_for_test_and_enable() -> None:
    strict = profiles(settings={"serve_only_enabled_mailboxes": True})
    roster = build_roster(strict, {"main": [info("a@contoso.test"), info("b@contoso.test", enabled=True)]})
    assert [a.address for a in roster.assignments] == ["b@contoso.test"]
    assert "email-router test-access --mailbox a@contoso.test" in reason(roster, "a@contoso.test", IN)


def test_a_binding_the_crm_does_not_list_is_not_served_but_a_forward_mailbox_is() -> None:
    bound = profiles(users=[{"address": "ghost@contoso.test"}],
                     forward_mailboxes=[{"address": "fwd@contoso.test"}])
    roster = build_roster(bound, {"main": []})
    assert [(a.address, a.role, a.incoming_profile) for a in roster.assignments] == [
        ("fwd@contoso.test", MailboxRole.FORWARD, "in")]
    assert reason(roster, "ghost@contoso.test", IN) == NOT_IN_CRM
    assert reason(roster, "fwd@contoso.test", OUT) == "forward mailboxes only receive mail"


def test_without_load_data_the_published_bindings_are_served_as_they_are() -> None:
    bound = profiles(users=[{"address": "ghost@contoso.test", "incoming": False}])
    roster = build_roster(bound, {"main": None})
    (ghost,) = roster.assignments
    assert (ghost.incoming_profile, ghost.outgoing_profile, ghost.crm_mailbox_id) == (None, "out", None)
    assert roster.entry("ghost@contoso.test", OUT).source is Source.PUBLISHED  # type: ignore[union-attr]


def test_missing_default_profiles_and_own_credentials_are_explained() -> None:
    bare = profiles(deployments={"main": {"default_incoming_profile": "own"}})
    roster = build_roster(bare, {"main": [info("alice@contoso.test")]})
    assert roster.assignments == ()
    assert "signs in with each mailbox's own credential" in reason(roster, "alice@contoso.test", IN)
    assert "has no default outgoing profile" in reason(roster, "alice@contoso.test", OUT)


def test_one_address_is_served_once() -> None:
    roster = build_roster(profiles(), {"main": [info("x@contoso.test"), info("X@contoso.test", queue=True)]})
    assert [a.role for a in roster.assignments] == [MailboxRole.USER]
    queue_entries = [e for e in roster.entries if e.role is MailboxRole.QUEUE]
    assert all(not e.served and "same address" in e.reason for e in queue_entries)

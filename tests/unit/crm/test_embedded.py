"""What is particular to the embedded CRM: its file, limits, admin rules, several processes sharing it."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import text

from router.clock import FrozenClock
from router.crm.codes import EmailStatus, Notification
from router.crm.embedded import EmbeddedCrm, EmbeddedGateway
from router.crm.messages import incoming_message
from router.crm.outgoing_query import pending_send_query
from router.errors import CrmPermanentError
from tests.support.crm import SERVICE_ACCOUNT, Organisation, draft_email, incoming_email, seed_organisation


def test_the_database_runs_in_wal_mode(embedded_crm: EmbeddedCrm) -> None:
    with embedded_crm.reading() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"


def test_a_file_that_is_no_database_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "crm.sqlite"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(CrmPermanentError) as caught:
        EmbeddedCrm(path)
    assert str(path) in str(caught.value) and caught.value.hint


def test_a_body_longer_than_the_limit_is_truncated_with_a_note(
    tmp_path: Path, crm_clock: FrozenClock
) -> None:
    with EmbeddedCrm(tmp_path / "crm.sqlite", clock=crm_clock, max_description_length=100) as crm:
        seed_organisation(crm)
        result = EmbeddedGateway(crm, SERVICE_ACCOUNT).deliver_incoming(incoming_email(body="y" * 250))
        view = crm.email(result.email_id)
    assert result.notifications is Notification.BODY_TRUNCATED and view.row["description"] == "y" * 100
    assert "250 characters" in view.notes[0]["notetext"]


def test_validate_before_create_refuses_what_the_check_refuses(
    embedded_crm: EmbeddedCrm, crm_org: Organisation
) -> None:
    refused = incoming_message(incoming_email(sender="stranger@example.org"))
    with pytest.raises(CrmPermanentError, match="INVALID_SENDER"):
        embedded_crm.deliver_incoming_email(SERVICE_ACCOUNT, refused, validate=True)


def test_unresolved_recipients_can_be_forbidden(embedded_crm: EmbeddedCrm, crm_org: Organisation) -> None:
    embedded_crm.update_organization(allowunresolvedpartiesonemailsend=False)
    email_id = draft_email(embedded_crm, crm_org.alice, "carol@fabrikam.com", "unknown@example.org")
    with pytest.raises(CrmPermanentError, match=r"unknown@example\.org"):
        embedded_crm.send_email(SERVICE_ACCOUNT, email_id)


def test_a_queue_sends_with_the_callers_user_number(embedded_crm: EmbeddedCrm, crm_org: Organisation) -> None:
    email_id = draft_email(embedded_crm, crm_org.sales, "carol@fabrikam.com", subject="From Sales")
    assert embedded_crm.send_email(SERVICE_ACCOUNT, email_id).tracking_token == "CRM:0001001"
    admin = draft_email(embedded_crm, crm_org.sales, "carol@fabrikam.com", subject="From the admin")
    assert embedded_crm.send_email(None, admin).tracking_token == "CRM:0000001"


def test_drafts_need_a_user_or_queue_sender_and_valid_recipients(
    embedded_crm: EmbeddedCrm, crm_org: Organisation
) -> None:
    with pytest.raises(CrmPermanentError, match="Invalid sender party"):
        draft_email(embedded_crm, crm_org.carol, "alice@contoso.com")
    with pytest.raises(CrmPermanentError, match="not a valid e-mail address"):
        draft_email(embedded_crm, crm_org.alice, "carol@")


def test_admin_rules(embedded_crm: EmbeddedCrm, crm_org: Organisation) -> None:
    with pytest.raises(CrmPermanentError, match="already exists"):
        embedded_crm.add_user("Again", "again@contoso.com", "contoso\\ALICE")
    with pytest.raises(CrmPermanentError, match="domain name"):
        embedded_crm.add_user("Nobody", "nobody@contoso.com", "  ")
    with pytest.raises(CrmPermanentError, match="not a customer record type"):
        embedded_crm.add_customer("queue", "Q", "q@contoso.com")
    with pytest.raises(CrmPermanentError, match="no mailbox"):
        embedded_crm.approve_mailbox("nobody@contoso.com")


def test_two_processes_sharing_the_file_never_claim_the_same_email(
    tmp_path: Path, crm_clock: FrozenClock
) -> None:
    path = tmp_path / "shared.sqlite"
    with EmbeddedCrm(path, clock=crm_clock) as first, EmbeddedCrm(path, clock=crm_clock) as second:
        org = seed_organisation(first)
        for n in range(20):
            first.send_email(None, draft_email(first, org.alice, "carol@fabrikam.com", subject=f"n{n}"))
        gateways = [EmbeddedGateway(first, SERVICE_ACCOUNT), EmbeddedGateway(second, SERVICE_ACCOUNT)]
        claimed: list[list[str]] = [[], []]
        barrier = threading.Barrier(2)

        def worker(index: int) -> None:
            barrier.wait()
            for _ in range(8):
                claimed[index] += [e.email_id for e in gateways[index].background_send(org.mailbox_ids, 3)]

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        statuses = {EmailStatus(row["statuscode"]) for row in second.emails(incoming=False)}
    together = claimed[0] + claimed[1]
    assert len(together) == len(set(together)) == 20 and statuses == {EmailStatus.SENDING}


def test_a_gateway_that_owns_its_crm_closes_it(tmp_path: Path) -> None:
    crm = EmbeddedCrm(tmp_path / "crm.sqlite")
    seed_organisation(crm)
    gateway = EmbeddedGateway(crm, SERVICE_ACCOUNT, owns_crm=True)
    assert gateway.who_am_i().user_id
    gateway.close()
    assert crm.engine.pool.checkedout() == 0


def test_background_send_reads_back_each_claimed_email_as_stored_after_the_claim(
    embedded_crm: EmbeddedCrm, crm_org: Organisation
) -> None:
    """The claim's UPDATE returns the rows it changed; they are the rows a read after it finds."""
    gateway = EmbeddedGateway(embedded_crm, SERVICE_ACCOUNT)
    first = draft_email(embedded_crm, crm_org.alice, "carol@fabrikam.com")
    second = draft_email(embedded_crm, crm_org.alice, "dave@fabrikam.com")
    for email_id in (first, second):
        gateway.send_email(email_id)
    query = pending_send_query(crm_org.mailbox_ids, embedded_crm.now())
    views = embedded_crm.background_send_views(SERVICE_ACCOUNT, query, 5)
    assert [view.row["activityid"] for view in views] == [first, second], "oldest first"
    for view in views:
        assert dict(view.row) == dict(embedded_crm.email(view.row["activityid"]).row)
        assert view.row["statuscode"] == EmailStatus.SENDING and view.notes == ()

"""Writing Test Access results and last errors back to the mailbox."""

from __future__ import annotations

import pytest

from router.crm.codes import MailboxTestStatus
from router.crm.embedded.admin import find_mailbox
from router.crm.gateway import MailboxTestResult
from router.errors import CrmRecordNotFoundError
from tests.contract.conftest import Target


def _row(target: Target, address: str) -> dict[str, object]:
    with target.crm.reading() as conn:
        return dict(find_mailbox(conn, address))


def test_a_test_result_sets_both_statuses_and_enables_what_worked(target: Target) -> None:
    box = target.org.mailbox("alice@contoso.com")
    result = MailboxTestResult(box, MailboxTestStatus.SUCCESS, MailboxTestStatus.FAILURE, target.clock.now())
    target.gateway.record_mailbox_test(result)
    row = _row(target, "alice@contoso.com")
    assert (row["incomingemailstatus"], row["outgoingemailstatus"]) == (1, 2)
    assert row["enabledforincomingemail"] is True and row["enabledforoutgoingemail"] is False
    assert row["testmailboxaccesscompletedon"] == target.clock.now()
    assert {b.address: b.incoming_status for b in target.gateway.load_data()}["alice@contoso.com"] is (
        MailboxTestStatus.SUCCESS
    )


def test_test_results_of_many_mailboxes_are_written_in_one_call(target: Target) -> None:
    ok, failed = MailboxTestStatus.SUCCESS, MailboxTestStatus.FAILURE
    results = [MailboxTestResult(target.org.mailbox("alice@contoso.com"), ok, ok, target.clock.now()),
               MailboxTestResult(target.org.mailbox("sales@contoso.com"), failed, ok, target.clock.now())]
    target.gateway.record_mailbox_tests(results)
    alice, sales = _row(target, "alice@contoso.com"), _row(target, "sales@contoso.com")
    assert (alice["incomingemailstatus"], alice["outgoingemailstatus"]) == (1, 1)
    assert (sales["incomingemailstatus"], sales["outgoingemailstatus"]) == (2, 1)
    assert sales["enabledforincomingemail"] is False and sales["enabledforoutgoingemail"] is True
    target.gateway.record_mailbox_tests([])
    unknown = MailboxTestResult("0f0e0d0c-0b0a-0908-0706-050403020100", ok, ok, target.clock.now())
    with pytest.raises(CrmRecordNotFoundError):
        target.gateway.record_mailbox_tests([unknown])


def test_errors_are_recorded_counted_and_cleared(target: Target) -> None:
    box = target.org.mailbox("sales@contoso.com")
    target.gateway.record_mailbox_error(
        box, "The request failed with HTTP status 503", occurred_on=target.clock.now()
    )
    target.clock.advance(60)
    target.gateway.record_mailbox_error(box, "ErrorAccessDenied", occurred_on=target.clock.now(), code=401)
    row = _row(target, "sales@contoso.com")
    assert (row["lastsyncerror"], row["lastsyncerrorcode"], row["lastsyncerrorcount"]) == (
        "ErrorAccessDenied",
        401,
        2,
    )
    assert row["lastsyncerroroccurredon"] == target.clock.now()
    target.gateway.clear_mailbox_error(box)
    row = _row(target, "sales@contoso.com")
    assert (row["lastsyncerror"], row["lastsyncerrorcode"], row["lastsyncerrorcount"]) == (None, None, 0)


def test_an_unknown_mailbox_is_record_not_found(target: Target) -> None:
    with pytest.raises(CrmRecordNotFoundError):
        target.gateway.record_mailbox_error(
            "0f0e0d0c-0b0a-0908-0706-050403020100", "x", occurred_on=target.clock.now()
        )

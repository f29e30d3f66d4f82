"""Test Access verdicts: the right an outgoing profile needs, and what a found right means."""

from __future__ import annotations

from typing import Any

import pytest

from router.config import MailboxAssignment, MailboxRole, Profile
from router.crm.codes import MailboxTestStatus
from router.service.access import Check, SendRight, expected_right, judge

ALICE = MailboxAssignment(role=MailboxRole.USER, address="alice@contoso.test", deployment="main", crm_id=None,
                          incoming_profile=None, outgoing_profile="out", incoming_credential=None,
                          outgoing_credential="svc", process_from=None, delete_after_processing=False)


def profile(**fields: Any) -> Profile:
    base = {"direction": "outgoing", "server_type": "exchange_2019", "ews_url": "https://mail.test/EWS/x",
            "auth": "ntlm", "credentials": "other_specified", "credential": "svc"}
    return Profile.model_validate({**base, **fields})


@pytest.mark.parametrize(("fields", "right"), [
    ({}, SendRight.SEND_AS),
    ({"user_type": "administrator", "access_type": "send_as"}, SendRight.SEND_AS),
    ({"user_type": "administrator", "access_type": "impersonation"}, SendRight.SEND_AS),
    ({"user_type": "administrator", "access_type": "delegate"}, SendRight.SEND_ON_BEHALF),
])
def test_each_access_type_needs_its_right(fields: dict[str, str], right: SendRight) -> None:
    assert expected_right(profile(**fields)) is right


def test_the_right_the_profile_expects_passes() -> None:
    check = judge(ALICE, profile(), "out", SendRight.SEND_AS, SendRight.SEND_AS)
    assert (check.status, check.failed) == (MailboxTestStatus.SUCCESS, False)
    assert check.message == "the account holds Send As on alice@contoso.test, as profile 'out' expects"


def test_send_as_where_delegate_is_expected_is_a_mismatch_with_the_fix() -> None:
    delegate = profile(user_type="administrator", access_type="delegate")
    check = judge(ALICE, delegate, "out", SendRight.SEND_AS, SendRight.SEND_ON_BEHALF)
    assert check.failed and (check.right, check.expected) == (SendRight.SEND_AS, SendRight.SEND_ON_BEHALF)
    assert "(access_type = delegate) expects Send On Behalf" in check.message
    assert "from the user alone" in check.message and 'access_type = "send_as"' in check.hint


def test_no_right_is_a_failure_naming_what_to_grant() -> None:
    check = judge(ALICE, profile(), "out", SendRight.NONE, SendRight.SEND_AS)
    assert check.failed and "holds neither Send As nor Send On Behalf" in check.message
    assert check.hint.startswith("grant it Send As on alice@contoso.test")


def test_a_direction_not_tested_is_not_a_failure() -> None:
    check = Check.not_run("its incoming delivery method in the CRM is Outlook")
    assert not check.failed and check.message.startswith("not tested: its incoming")

"""Test Access results: what counts as a failure, and how a failure carries the error's advice."""

from __future__ import annotations

from router.crm.codes import MailboxTestStatus
from router.errors import AuthenticationError
from router.pipeline.outgoing.send_right import SendRight
from router.service.access import LABELS, Check


def test_a_direction_not_tested_is_not_a_failure() -> None:
    check = Check.not_run("its incoming delivery method in the CRM is Outlook")
    assert (check.status, check.failed) == (MailboxTestStatus.NOT_RUN, False)
    assert check.message == "not tested: its incoming delivery method in the CRM is Outlook"


def test_a_failure_carries_the_message_and_hint_of_its_error() -> None:
    error = AuthenticationError("UnauthorizedError: Invalid credentials", mailbox="a@contoso.test",
                                hint="check the user name and password")
    check = Check.failure(error, expected=SendRight.SEND_AS)
    assert check.failed and check.message == "UnauthorizedError: Invalid credentials"
    assert (check.hint, check.expected) == ("check the user name and password", SendRight.SEND_AS)


def test_every_send_right_has_an_admin_label() -> None:
    assert {LABELS[right] for right in SendRight} == {"Send As", "Send On Behalf", "none", "unknown"}

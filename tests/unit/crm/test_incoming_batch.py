"""``check_and_deliver_each``: the one-message-at-a-time batch of a CRM without transactions."""

from __future__ import annotations

import pytest

from router.crm.codes import CorrelationMethod, ReasonCode
from router.crm.gateway import CheckResult, DeliverResult, IncomingEmail
from router.crm.incoming_batch import check_and_deliver_each
from router.errors import CrmPermanentError, CrmTransientError
from tests.support.crm import incoming_email


class Crm:
    """A CRM that accepts every message, except those it was told to fail."""

    def __init__(self, fail: dict[str, Exception]) -> None:
        self.fail = fail
        self.delivered: list[str] = []

    def check(self, email: IncomingEmail) -> CheckResult:
        return CheckResult(True, ReasonCode.ACCEPT_ALL)

    def deliver(self, email: IncomingEmail) -> DeliverResult:
        if email.message_id in self.fail:
            raise self.fail[email.message_id]
        self.delivered.append(email.message_id)
        return DeliverResult(email.message_id, True, CorrelationMethod.NONE)


EMAILS = [incoming_email(message_id=f"<{n}@x>") for n in range(3)]


def test_a_transient_error_before_any_delivery_is_raised() -> None:
    crm = Crm({"<0@x>": CrmTransientError("busy")})
    with pytest.raises(CrmTransientError):
        check_and_deliver_each(EMAILS, crm.check, crm.deliver)
    assert crm.delivered == []


def test_a_transient_error_after_a_delivery_ends_the_batch_as_its_answer() -> None:
    crm = Crm({"<1@x>": CrmTransientError("busy")})
    answers = check_and_deliver_each(EMAILS, crm.check, crm.deliver)
    assert len(answers) == 2 and answers[0].delivered is not None
    assert isinstance(answers[1].error, CrmTransientError) and crm.delivered == ["<0@x>"]


def test_a_permanent_error_is_one_messages_answer() -> None:
    crm = Crm({"<0@x>": CrmPermanentError("bad request")})
    answers = check_and_deliver_each(EMAILS, crm.check, crm.deliver)
    assert isinstance(answers[0].error, CrmPermanentError) and answers[0].check is not None
    assert crm.delivered == ["<1@x>", "<2@x>"]

"""``check_and_deliver_each``: a batch of incoming e-mails offered one message after the other.

The ``CrmGateway.check_and_deliver_incoming`` of a CRM without a batch of its own (the Dynamics Web API
adapter), and the embedded CRM's fallback when one message of its one-transaction batch fails: for
each e-mail CheckIncomingEmail, then DeliverIncomingEmail when the check wants it or finds a duplicate.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from router.crm.codes import ReasonCode
from router.crm.gateway import CheckResult, DeliverResult, IncomingAnswer, IncomingEmail
from router.errors import CrmError, CrmPermanentError


def wants_delivery(check: CheckResult) -> bool:
    """Whether DeliverIncomingEmail follows this check: the CRM wants it, or already holds it."""
    return check.should_deliver or check.reason is ReasonCode.DUPLICATE


def check_and_deliver_each(
    emails: Sequence[IncomingEmail],
    check: Callable[[IncomingEmail], CheckResult],
    deliver: Callable[[IncomingEmail], DeliverResult],
) -> tuple[IncomingAnswer, ...]:
    """Offer ``emails`` in order with ``check`` and ``deliver`` (see the module docstring).

    A permanent error is its message's answer; any other CRM error is raised before anything was
    delivered, and afterwards ends the batch as the last answer's ``error``.
    """
    answers: list[IncomingAnswer] = []
    for email in emails:
        try:
            answers.append(_one(email, check, deliver))
        except CrmPermanentError as exc:
            answers.append(IncomingAnswer(error=exc))
        except CrmError as exc:
            if not any(a.delivered is not None for a in answers):
                raise
            answers.append(IncomingAnswer(error=exc))
            break
    return tuple(answers)


def _one(
    email: IncomingEmail,
    check: Callable[[IncomingEmail], CheckResult],
    deliver: Callable[[IncomingEmail], DeliverResult],
) -> IncomingAnswer:
    checked = check(email)
    if not wants_delivery(checked):
        return IncomingAnswer(checked)
    try:
        return IncomingAnswer(checked, deliver(email))
    except CrmPermanentError as exc:
        return IncomingAnswer(checked, error=exc)

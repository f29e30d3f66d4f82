"""A batch of incoming e-mails checked and delivered in one transaction of the embedded CRM.

``check_and_deliver`` gives every message of a batch the answers CheckIncomingEmail and then (when the
check wants it or finds a duplicate) DeliverIncomingEmail would give one after the other, and journals
each call as such, but in one write transaction: the caller is authorised and the organisation read
once, the lookups the messages share are remembered (``lookups``), and the delivery reuses the check's
decision, made a moment earlier in the same transaction (deciding again would repeat it exactly).
The ``DeliverResult`` is read from the new row alone (not the e-mail's full view).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy import Connection, bindparam, select

from router.crm.codes import CorrelationMethod, Notification, ReasonCode
from router.crm.embedded import delivery, fences, journal
from router.crm.embedded.filtering import decide
from router.crm.embedded.lookups import memoized
from router.crm.embedded.organization import OrgSettings
from router.crm.embedded.records import describe
from router.crm.embedded.schema import email
from router.crm.gateway import CheckResult, DeliverResult, IncomingAnswer
from router.crm.messages import IncomingMessage
from router.state.fencing import LaneToken

_RESULT = select(
    email.c.correlationmethod,
    email.c.parentactivityid,
    email.c.notifications,
    email.c.regardingobjecttypecode,
    email.c.regardingobjectid,
).where(email.c.activityid == bindparam("activity"))


def check_and_deliver(
    conn: Connection,
    org: OrgSettings,
    now: Callable[[], datetime],
    messages: Sequence[IncomingMessage],
    *,
    max_description: int,
    fence: LaneToken | None = None,
) -> list[IncomingAnswer]:
    """Check, then deliver when wanted, each of ``messages`` in order, in the caller's transaction; a
    stale ``fence`` refuses the whole batch before anything is written (see ``fences``)."""
    fences.admit(conn, fence)
    with memoized(conn):
        return [_one(conn, org, now, msg, max_description, fence) for msg in messages]


def _one(
    conn: Connection,
    org: OrgSettings,
    now: Callable[[], datetime],
    msg: IncomingMessage,
    max_description: int,
    fence: LaneToken | None,
) -> IncomingAnswer:
    decision = decide(conn, org, msg)
    outcome = journal.Outcome.DELIVER if decision.should_deliver else journal.Outcome.SKIP
    journal.record(conn, now(), journal.CHECK, msg.message_id, outcome, fence=fence)
    check = CheckResult(decision.should_deliver, decision.reason)
    if not (decision.should_deliver or decision.reason is ReasonCode.DUPLICATE):
        return IncomingAnswer(check)
    delivered = delivery.deliver(conn, org, now(), msg, max_description=max_description, decision=decision)
    outcome = journal.Outcome.CREATED if delivered.created_new else journal.Outcome.EXISTING
    journal.record(conn, now(), journal.DELIVER, msg.message_id, outcome, delivered.email_id,
                   fence=fence)
    return IncomingAnswer(check, deliver_result(conn, delivered))


def deliver_result(conn: Connection, delivered: delivery.Delivered) -> DeliverResult:
    """The contract's answer for a delivered activity, read from its row."""
    row = conn.execute(_RESULT, {"activity": delivered.email_id}).one()
    return DeliverResult(
        email_id=delivered.email_id,
        created_new=delivered.created_new,
        correlation_method=CorrelationMethod(row.correlationmethod),
        regarding=describe(conn, row.regardingobjecttypecode, row.regardingobjectid),
        parent_email_id=row.parentactivityid,
        notifications=Notification(row.notifications),
    )

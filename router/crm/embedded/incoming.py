"""A batch of incoming e-mails checked and delivered in one transaction of the embedded CRM.

``check_and_deliver`` gives every message of a batch the answers CheckIncomingEmail and then (when the
check wants it or finds a duplicate) DeliverIncomingEmail would give one after the other, and journals
each call as such, but in one write transaction: the caller is authorised and the organisation read
once, the lookups the messages share are remembered (``lookups``), and the delivery reuses the check's
decision, made a moment earlier in the same transaction (deciding again would repeat it exactly).
The ``DeliverResult`` of a new activity is built from the columns just written (not read back).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, select

from router.crm.codes import CorrelationMethod, Notification, ReasonCode
from router.crm.embedded import delivery, fences, journal
from router.crm.embedded.correlation import refresh_subject_keys
from router.crm.embedded.filtering import decide, message_addresses, sender_address, tracked_ids
from router.crm.embedded.lookups import memoized
from router.crm.embedded.organization import OrgSettings
from router.crm.embedded.records import describe, resolve_all
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
    stale ``fence`` refuses the whole batch before anything is written (see ``fences``).

    The batch asks once which of its Message-IDs the CRM already tracks (then remembers the ones it
    delivers) and which records its addresses resolve to, computes the subject keys smart matching
    needs once, and journals its calls in one statement at its end, in call order.
    """
    fences.admit(conn, fence)
    refresh_subject_keys(conn, org)
    batch = _Batch(tracked_ids(conn, [m.message_id for m in messages]))
    with memoized(conn):
        resolve_all(conn, [a for m in messages for a in (sender_address(m), *message_addresses(m))])
        answers = [_one(conn, org, now, msg, max_description, fence, batch) for msg in messages]
    journal.record_many(conn, batch.journal)
    return answers


@dataclass
class _Batch:
    """What one batch learns as it goes: the Message-IDs tracked (lower case) and its journal rows."""

    tracked: set[str]
    journal: list[dict[str, object]] = field(default_factory=list)


def _one(
    conn: Connection,
    org: OrgSettings,
    now: Callable[[], datetime],
    msg: IncomingMessage,
    max_description: int,
    fence: LaneToken | None,
    batch: _Batch,
) -> IncomingAnswer:
    decision = decide(conn, org, msg, duplicate=msg.message_id.lower() in batch.tracked)
    outcome = journal.Outcome.DELIVER if decision.should_deliver else journal.Outcome.SKIP
    batch.journal.append(journal.entry(now(), journal.CHECK, msg.message_id, outcome, fence=fence))
    check = CheckResult(decision.should_deliver, decision.reason)
    if not (decision.should_deliver or decision.reason is ReasonCode.DUPLICATE):
        return IncomingAnswer(check)
    delivered = delivery.deliver(conn, org, now(), msg, max_description=max_description, decision=decision)
    batch.tracked.add(msg.message_id.lower())
    outcome = journal.Outcome.CREATED if delivered.created_new else journal.Outcome.EXISTING
    batch.journal.append(
        journal.entry(now(), journal.DELIVER, msg.message_id, outcome, delivered.email_id, fence=fence)
    )
    return IncomingAnswer(check, deliver_result(conn, delivered))


def deliver_result(conn: Connection, delivered: delivery.Delivered) -> DeliverResult:
    """The contract's answer for a delivered activity: from the columns this call wrote when it created
    the activity, else read from its row."""
    row: Mapping[Any, Any]
    if delivered.written is not None:
        row = delivered.written
    else:
        row = conn.execute(_RESULT, {"activity": delivered.email_id}).mappings().one()
    return DeliverResult(
        email_id=delivered.email_id,
        created_new=delivered.created_new,
        correlation_method=CorrelationMethod(row["correlationmethod"]),
        regarding=describe(conn, row["regardingobjecttypecode"], row["regardingobjectid"]),
        parent_email_id=row["parentactivityid"],
        notifications=Notification(row["notifications"]),
    )

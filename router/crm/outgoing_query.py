"""The BackgroundSendEmail query both gateways send: Pending Send e-mails of the router's mailboxes.

The legacy router's exact query is not documented; this one asks for outgoing e-mails in Pending Send
whose sender mailbox the router serves, and leaves out those whose last attempt is younger than
PendingStatusDelay (an e-mail put back after a failure waits before it is tried again).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from router.crm.codes import EmailStatus
from router.crm.query import Condition, Filter, Op, all_of, any_of, eq, one_of


def pending_send_query(mailbox_ids: Sequence[str] | None, attempted_before: datetime) -> Filter:
    """Return the query for Pending Send e-mails of ``mailbox_ids`` not tried since ``attempted_before``;
    ``None``: of any mailbox (the caller keeps the rows of its mailboxes itself)."""
    named = () if mailbox_ids is None else (one_of("sendermailboxid", list(mailbox_ids)),)
    return all_of(
        eq("statuscode", int(EmailStatus.PENDING_SEND)),
        eq("directioncode", True),
        *named,
        any_of(
            Condition("deliverylastattemptedon", Op.NULL),
            Condition("deliverylastattemptedon", Op.LESS_THAN, (attempted_before,)),
        ),
    )

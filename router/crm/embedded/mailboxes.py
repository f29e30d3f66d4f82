"""Mailboxes in the embedded CRM: Load Data, and the status the router writes back.

Load Data returns the mailboxes of enabled users and active queues whose incoming method is the router
(or a forward mailbox) or whose outgoing method is the router. Test Access results, the last error and
its count are written to the mailbox row, as the legacy router and server-side sync did.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, RowMapping, bindparam, false, or_, select, update

from router.crm.codes import (
    Approval,
    FilteringMethod,
    IncomingDeliveryMethod,
    MailboxTestStatus,
    OutgoingDeliveryMethod,
    OwnerType,
)
from router.crm.embedded import rows
from router.crm.embedded.organization import OrgSettings
from router.crm.embedded.schema import mailbox, queue, systemuser, usersettings
from router.crm.gateway import MailboxInfo, MailboxTestResult, RecordRef
from router.crm.updates import CLEARED_MAILBOX_ERROR, mailbox_error_values, mailbox_test_values

_ROUTED_IN = (int(IncomingDeliveryMethod.ROUTER), int(IncomingDeliveryMethod.FORWARD_MAILBOX))


def load(conn: Connection, org: OrgSettings) -> list[MailboxInfo]:
    """Return the router's mailboxes, users first, each group ordered by address."""
    routed = or_(
        mailbox.c.incomingemaildeliverymethod.in_(_ROUTED_IN),
        mailbox.c.outgoingemaildeliverymethod == int(OutgoingDeliveryMethod.ROUTER),
    )
    users = (
        conn.execute(
            select(
                mailbox,
                systemuser.c.fullname.label("ownername"),
                usersettings.c.incomingemailfilteringmethod.label("filtering"),
            )
            .join(systemuser, systemuser.c.systemuserid == mailbox.c.regardingobjectid)
            .join(usersettings, usersettings.c.systemuserid == systemuser.c.systemuserid)
            .where(routed, mailbox.c.statecode == 0, systemuser.c.isdisabled == false())
            .order_by(mailbox.c.emailaddress)
        )
        .mappings()
        .all()
    )
    queues = (
        conn.execute(
            select(
                mailbox,
                queue.c.name.label("ownername"),
                queue.c.incomingemailfilteringmethod.label("filtering"),
            )
            .join(queue, queue.c.queueid == mailbox.c.regardingobjectid)
            .where(routed, mailbox.c.statecode == 0, queue.c.statecode == 0)
            .order_by(mailbox.c.emailaddress)
        )
        .mappings()
        .all()
    )
    return [_info(r, OwnerType.SYSTEMUSER, org.require_approval_users) for r in users] + [
        _info(r, OwnerType.QUEUE, org.require_approval_queues) for r in queues
    ]


def _info(row: RowMapping, owner_type: OwnerType, approval_required: bool) -> MailboxInfo:
    return MailboxInfo(
        mailbox_id=row["mailboxid"],
        name=row["name"],
        address=row["emailaddress"],
        owner=RecordRef(owner_type.logical_name, row["regardingobjectid"], row["ownername"]),
        owner_type=owner_type,
        incoming_method=IncomingDeliveryMethod(row["incomingemaildeliverymethod"]),
        outgoing_method=OutgoingDeliveryMethod(row["outgoingemaildeliverymethod"]),
        approval=Approval(row["emailrouteraccessapproval"]),
        approval_required=approval_required,
        filtering=FilteringMethod(row["filtering"]),
        incoming_status=MailboxTestStatus(row["incomingemailstatus"]),
        outgoing_status=MailboxTestStatus(row["outgoingemailstatus"]),
        enabled_incoming=row["enabledforincomingemail"],
        enabled_outgoing=row["enabledforoutgoingemail"],
        is_forward_mailbox=row["isforwardmailbox"],
        process_email_received_after=row["processemailreceivedafter"],
    )


def record_test(conn: Connection, now: datetime, result: MailboxTestResult) -> None:
    """Write a Test Access result to the mailbox."""
    rows.update(conn, mailbox, result.mailbox_id, mailbox_test_values(result), now)


def record_tests(conn: Connection, now: datetime, results: Sequence[MailboxTestResult]) -> None:
    """Write Test Access results to their mailboxes with one statement; a missing mailbox raises
    CrmRecordNotFoundError naming it (the caller's transaction then writes none)."""
    if not results:
        return
    names = list(mailbox_test_values(results[0]))
    stmt = (
        update(mailbox)
        .where(mailbox.c[rows.key_column(mailbox)] == bindparam("b_id"))
        .values(
            **{name: bindparam(f"b_{name}") for name in names},
            modifiedon=now,
            versionnumber=mailbox.c.versionnumber + 1,
        )
    )
    params = [
        {"b_id": r.mailbox_id, **{f"b_{k}": v for k, v in mailbox_test_values(r).items()}} for r in results
    ]
    if conn.execute(stmt, params).rowcount != len(results):
        for result in results:
            rows.require(conn, mailbox, result.mailbox_id)


def record_error(
    conn: Connection,
    now: datetime,
    mailbox_id: str,
    message: str,
    occurred_on: datetime,
    code: int | None,
) -> None:
    """Set the mailbox's last error and count it."""
    count = rows.require(conn, mailbox, mailbox_id)["lastsyncerrorcount"]
    rows.update(conn, mailbox, mailbox_id, mailbox_error_values(message, code, occurred_on, count + 1), now)


def clear_error(conn: Connection, now: datetime, mailbox_id: str) -> None:
    """Clear the mailbox's last error and its count."""
    rows.update(conn, mailbox, mailbox_id, CLEARED_MAILBOX_ERROR, now)

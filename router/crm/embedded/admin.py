"""Administration of the embedded CRM: users, queues, customers, and their mailboxes' settings.

These are the changes an admin makes in the Dynamics UI (new user, new queue, Approve Email, delivery
methods, filtering). Each function runs inside the caller's write transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, RowMapping, func, select

from router.crm.addresses import is_valid_address
from router.crm.codes import (
    Approval,
    FilteringMethod,
    IncomingDeliveryMethod,
    OutgoingDeliveryMethod,
)
from router.crm.embedded import rows
from router.crm.embedded.records import record_type
from router.crm.embedded.schema import mailbox, queue, systemuser, usersettings
from router.crm.gateway import RecordRef


@dataclass(frozen=True, kw_only=True)
class MailboxSettings:
    """How a new user's or queue's mailbox is set up."""

    incoming: IncomingDeliveryMethod = IncomingDeliveryMethod.ROUTER
    outgoing: OutgoingDeliveryMethod = OutgoingDeliveryMethod.ROUTER
    approval: Approval = Approval.EMPTY
    filtering: FilteringMethod | None = None


#: The settings a mailbox gets when none are given: router both ways, not yet approved.
DEFAULT_MAILBOX = MailboxSettings()


def _checked_address(address: str) -> str:
    address = address.strip()
    if not is_valid_address(address):
        raise rows.invalid(f"{address!r} is not a valid e-mail address", hint="use the form name@domain.tld")
    return address


def add_user(
    conn: Connection,
    now: datetime,
    *,
    fullname: str,
    address: str,
    domainname: str,
    settings: MailboxSettings = MailboxSettings(),
    application_id: str | None = None,
) -> RecordRef:
    """Create a user with its user settings and default mailbox; return the user."""
    address = _checked_address(address)
    if not domainname.strip():
        raise rows.invalid("a user needs a domain name (DOMAIN\\user)", hint="e.g. CONTOSO\\alice")
    taken = conn.execute(
        select(systemuser.c.systemuserid).where(
            func.lower(systemuser.c.domainname) == domainname.strip().lower()
        )
    ).first()
    if taken is not None:
        raise rows.invalid(f"a user with domain name {domainname} already exists", hint="pick another name")
    number = (conn.execute(select(func.max(systemuser.c.trackingusernumber))).scalar() or 0) + 1
    user_id = rows.insert(
        conn,
        systemuser,
        {
            "fullname": fullname,
            "domainname": domainname.strip(),
            "internalemailaddress": address,
            "applicationid": application_id,
            "trackingusernumber": number,
        },
        now,
    )
    filtering = (
        settings.filtering if settings.filtering is not None else FilteringMethod.FROM_LEADS_CONTACTS_ACCOUNTS
    )
    conn.execute(
        usersettings.insert().values(
            systemuserid=user_id,
            incomingemailfilteringmethod=int(filtering),
            createdon=now,
            modifiedon=now,
            versionnumber=1,
        )
    )
    box = _add_mailbox(conn, now, fullname, address, RecordRef("systemuser", user_id), settings)
    rows.update(conn, systemuser, user_id, {"defaultmailbox": box}, now)
    return RecordRef("systemuser", user_id, fullname)


def add_queue(
    conn: Connection,
    now: datetime,
    *,
    name: str,
    address: str,
    settings: MailboxSettings = MailboxSettings(),
) -> RecordRef:
    """Create a queue with its default mailbox; return the queue."""
    address = _checked_address(address)
    filtering = settings.filtering if settings.filtering is not None else FilteringMethod.ALL
    queue_id = rows.insert(
        conn,
        queue,
        {"name": name, "emailaddress": address, "incomingemailfilteringmethod": int(filtering)},
        now,
    )
    box = _add_mailbox(conn, now, name, address, RecordRef("queue", queue_id), settings)
    rows.update(conn, queue, queue_id, {"defaultmailbox": box}, now)
    return RecordRef("queue", queue_id, name)


def add_customer(
    conn: Connection,
    now: datetime,
    logical_name: str,
    *,
    name: str,
    address: str,
    company: str | None = None,
) -> RecordRef:
    """Create a contact, account or lead with one e-mail address; return it."""
    if logical_name not in ("contact", "account", "lead"):
        raise rows.invalid(f"{logical_name} is not a customer record type", hint="contact, account or lead")
    kind = record_type(logical_name)
    values: dict[str, object] = {kind.name_column: name, "emailaddress1": _checked_address(address)}
    if logical_name == "lead" and company:
        values["companyname"] = company
    return RecordRef(logical_name, rows.insert(conn, kind.table, values, now), name)


def _add_mailbox(
    conn: Connection,
    now: datetime,
    name: str,
    address: str,
    owner: RecordRef,
    settings: MailboxSettings,
) -> str:
    return rows.insert(
        conn,
        mailbox,
        {
            "name": name,
            "emailaddress": address,
            "regardingobjectid": owner.id,
            "regardingobjecttypecode": owner.logical_name,
            "incomingemaildeliverymethod": int(settings.incoming),
            "outgoingemaildeliverymethod": int(settings.outgoing),
            "emailrouteraccessapproval": int(settings.approval),
        },
        now,
    )


def find_mailbox(conn: Connection, key: str) -> RowMapping:
    """Return the mailbox whose id or e-mail address is ``key``, or raise naming it."""
    row = (
        conn.execute(
            select(mailbox)
            .where((mailbox.c.mailboxid == key) | (func.lower(mailbox.c.emailaddress) == key.strip().lower()))
            .order_by(mailbox.c.createdon, rows.rowid(mailbox))
        )
        .mappings()
        .first()
    )
    if row is None:
        raise rows.invalid(
            f"no mailbox has the id or address {key!r}",
            hint="list mailboxes with `email-router crm mailboxes`",
        )
    return row


def set_mailbox(conn: Connection, now: datetime, key: str, **values: int | bool) -> RowMapping:
    """Change a mailbox's approval or delivery methods (Dynamics column names); return the new row."""
    row = find_mailbox(conn, key)
    rows.update(conn, mailbox, row["mailboxid"], values, now)
    return rows.require(conn, mailbox, row["mailboxid"])


def set_filtering(conn: Connection, now: datetime, owner: RecordRef, method: FilteringMethod) -> None:
    """Set the incoming e-mail filtering method of a user (user settings) or queue."""
    if owner.logical_name == "systemuser":
        conn.execute(
            usersettings.update()
            .where(usersettings.c.systemuserid == owner.id)
            .values(
                incomingemailfilteringmethod=int(method),
                modifiedon=now,
                versionnumber=usersettings.c.versionnumber + 1,
            )
        )
    else:
        rows.update(conn, queue, owner.id, {"incomingemailfilteringmethod": int(method)}, now)


def set_user_disabled(conn: Connection, now: datetime, user_id: str, disabled: bool) -> None:
    """Disable or re-enable a user (a disabled user can neither call the CRM nor receive mail)."""
    rows.update(conn, systemuser, user_id, {"isdisabled": disabled}, now)

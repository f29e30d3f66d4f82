"""CheckIncomingEmail: whether the CRM tracks an incoming message, and the reason code it answers.

The checks run in this order: a message whose Message-ID is already tracked is a Duplicate; a sender
that is no address is an InvalidSender; a message none of whose recipients is an active, approved user
or queue whose mailbox uses the router is NoRecipientMatch; mail from a user or queue is rejected as
internal when ``ignoreinternalemail`` is set. Then each CRM recipient's filtering method is asked in
To, Cc, Bcc order, and the first that accepts decides (and becomes the accepting entity).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

from sqlalchemy import Connection, RowMapping, bindparam, false, func, select

from router.crm.addresses import from_wire, is_valid_address, normalize
from router.crm.codes import Approval, FilteringMethod, IncomingDeliveryMethod, ReasonCode
from router.crm.embedded.correlation import Correlation, correlate
from router.crm.embedded.lookups import remembered
from router.crm.embedded.organization import OrgSettings
from router.crm.embedded.records import CUSTOMER_TYPES, INTERNAL_TYPES, resolve_address
from router.crm.embedded.rows import rowid
from router.crm.embedded.schema import email, mailbox, queue, systemuser, usersettings
from router.crm.gateway import RecordRef
from router.crm.messages import IncomingMessage

_ROUTED = (int(IncomingDeliveryMethod.ROUTER), int(IncomingDeliveryMethod.FORWARD_MAILBOX))


@dataclass(frozen=True)
class Recipient:
    """A CRM user or queue among the recipients, with its mailbox and filtering method."""

    owner: RecordRef
    mailbox_id: str
    filtering: FilteringMethod


@dataclass(frozen=True)
class Decision:
    """The check's answer plus what delivery reuses: the accepting recipient and the correlation."""

    should_deliver: bool
    reason: ReasonCode
    accepting: Recipient | None = None
    correlation: Correlation | None = None
    sender: RecordRef | None = None


def message_addresses(msg: IncomingMessage) -> list[str]:
    """Return the recipient addresses in To, Cc, Bcc order."""
    return [*from_wire(msg.to), *from_wire(msg.cc), *from_wire(msg.bcc)]


def sender_address(msg: IncomingMessage) -> str:
    """Return the first From address, or an empty string."""
    found = from_wire(msg.sender)
    return found[0] if found else ""


_DUPLICATE = select(email.c.activityid).where(func.lower(email.c.messageid) == bindparam("wanted")).limit(1)


def is_duplicate(conn: Connection, message_id: str) -> bool:
    """True when an e-mail with this Message-ID is already tracked (in either direction)."""
    return conn.execute(_DUPLICATE, {"wanted": message_id.lower()}).first() is not None


_TRACKED = select(func.lower(email.c.messageid)).where(
    func.lower(email.c.messageid).in_(bindparam("wanted", expanding=True))
)


def tracked_ids(conn: Connection, message_ids: Sequence[str]) -> set[str]:
    """The ones of ``message_ids`` (lower case) an e-mail already has, in one query (``is_duplicate``
    for a whole batch)."""
    wanted = sorted({m.lower() for m in message_ids})
    return set(conn.execute(_TRACKED, {"wanted": wanted}).scalars()) if wanted else set()


def decide(
    conn: Connection, org: OrgSettings, msg: IncomingMessage, *, duplicate: bool | None = None
) -> Decision:
    """Run CheckIncomingEmail's logic for ``msg``; ``duplicate``: whether its Message-ID is tracked,
    when the caller already knows (a batch: ``tracked_ids``), else looked up."""
    if is_duplicate(conn, msg.message_id) if duplicate is None else duplicate:
        return Decision(False, ReasonCode.DUPLICATE)
    sender = sender_address(msg)
    if not is_valid_address(sender):
        return Decision(False, ReasonCode.INVALID_SENDER)
    recipients = crm_recipients(conn, org, message_addresses(msg))
    if not recipients:
        return Decision(False, ReasonCode.NO_RECIPIENT_MATCH)
    sender_ref = resolve_address(conn, sender)
    if org.ignore_internal_email and sender_ref is not None and sender_ref.logical_name in INTERNAL_TYPES:
        return Decision(False, ReasonCode.INTERNAL_EMAIL_REJECT, sender=sender_ref)
    correlation = correlate(
        conn,
        org,
        subject=msg.subject,
        in_reply_to=msg.in_reply_to,
        conversation_index=msg.conversation_index,
        addresses=[sender, *message_addresses(msg)],
    )
    for recipient in recipients:
        reason = _accepts(recipient.filtering, sender_ref, correlation)
        if reason is not None:
            return Decision(True, reason, recipient, correlation, sender_ref)
    return Decision(False, _refusal(recipients, correlation), None, correlation, sender_ref)


def _accepts(
    method: FilteringMethod, sender: RecordRef | None, correlation: Correlation
) -> ReasonCode | None:
    if method is FilteringMethod.ALL:
        return ReasonCode.ACCEPT_ALL
    if method is FilteringMethod.NONE:
        return None
    if correlation.matched:
        return ReasonCode.CORRELATION_MATCH
    if (
        method is FilteringMethod.FROM_LEADS_CONTACTS_ACCOUNTS
        and sender
        and sender.logical_name in CUSTOMER_TYPES
    ):
        return ReasonCode.SENDER_MATCH
    if method is FilteringMethod.FROM_EMAIL_ENABLED_RECORDS and sender is not None:
        return ReasonCode.SENDER_MATCH
    return None


def _refusal(recipients: list[Recipient], correlation: Correlation) -> ReasonCode:
    methods = {r.filtering for r in recipients}
    if correlation.unmatched_token:
        return ReasonCode.NO_CORRELATION_MATCH
    if methods & {FilteringMethod.FROM_LEADS_CONTACTS_ACCOUNTS, FilteringMethod.FROM_EMAIL_ENABLED_RECORDS}:
        return ReasonCode.INVALID_SENDER
    if FilteringMethod.RESPONSES in methods:
        return ReasonCode.NO_CORRELATION_MATCH
    return ReasonCode.UNKNOWN


def crm_recipients(conn: Connection, org: OrgSettings, addresses: list[str]) -> list[Recipient]:
    """Return the active, approved users and queues among ``addresses`` whose mailbox uses the router."""
    found: dict[str, Recipient] = {}
    for address in addresses:
        wanted = normalize(address)
        for recipient in remembered(conn, "recipients", wanted, partial(_recipients, conn, org, wanted)):
            if recipient.mailbox_id not in found:
                found[recipient.mailbox_id] = recipient
    return list(found.values())


def _recipients(conn: Connection, org: OrgSettings, address: str) -> list[Recipient]:
    """The routed users and queues whose mailbox has ``address`` (normalised), oldest mailbox first."""
    boxes = conn.execute(_ROUTED_MAILBOXES, {"wanted": address}).mappings().all()
    return [r for r in (_recipient(conn, org, box) for box in boxes) if r is not None]


_ROUTED_MAILBOXES = (
    select(mailbox)
    .where(
        func.lower(mailbox.c.emailaddress) == bindparam("wanted"),
        mailbox.c.statecode == 0,
        mailbox.c.incomingemaildeliverymethod.in_(_ROUTED),
    )
    .order_by(mailbox.c.createdon, rowid(mailbox))
)
_USER = (
    select(systemuser.c.fullname, usersettings.c.incomingemailfilteringmethod)
    .join(usersettings, usersettings.c.systemuserid == systemuser.c.systemuserid)
    .where(systemuser.c.systemuserid == bindparam("owner"), systemuser.c.isdisabled == false())
)
_QUEUE = select(queue.c.name, queue.c.incomingemailfilteringmethod).where(
    queue.c.queueid == bindparam("owner"), queue.c.statecode == 0
)


def _recipient(conn: Connection, org: OrgSettings, box: RowMapping) -> Recipient | None:
    owner_type, owner_id = str(box["regardingobjecttypecode"]), str(box["regardingobjectid"])
    if owner_type == "systemuser":
        row = conn.execute(_USER, {"owner": owner_id}).first()
        required = org.require_approval_users
    else:
        row = conn.execute(_QUEUE, {"owner": owner_id}).first()
        required = org.require_approval_queues
    if row is None or (required and box["emailrouteraccessapproval"] != Approval.APPROVED):
        return None
    return Recipient(RecordRef(owner_type, owner_id, row[0]), str(box["mailboxid"]), FilteringMethod(row[1]))

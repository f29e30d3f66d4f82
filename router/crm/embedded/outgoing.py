"""Outgoing e-mail in the embedded CRM: drafts, SendEmail, and the BackgroundSendEmail claim.

SendEmail moves a Draft (or a Failed e-mail being resubmitted) to Pending Send and gives it a tracking
token, keeping the token it already had. BackgroundSendEmail claims Pending Send e-mails by moving them
to Sending inside one write transaction, so two callers never receive the same e-mail; e-mails left in
Sending longer than SendingStatusDelay are released back to Pending Send.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, RowMapping, and_, bindparam, or_, select, true
from sqlalchemy import update as sql_update

from router.crm.addresses import is_valid_address
from router.crm.codes import EmailStatus, Importance, ParticipationType
from router.crm.embedded import rows
from router.crm.embedded.delivery import add_party, store_attachment
from router.crm.embedded.organization import OrgSettings
from router.crm.embedded.records import INTERNAL_TYPES, describe, record_type
from router.crm.embedded.schema import activityparty, email
from router.crm.embedded.sql import compile_node
from router.crm.embedded.tracking import next_token, with_token
from router.crm.gateway import Attachment, RecordRef, SendResult, SentEmail
from router.crm.query import Node
from router.crm.updates import claim_values, sent_values

Recipient = str | RecordRef


@dataclass(frozen=True, kw_only=True)
class Draft:
    """A new outgoing e-mail: from a user or queue, to addresses or records."""

    sender: RecordRef
    subject: str
    body: str = ""
    to: tuple[Recipient, ...] = ()
    cc: tuple[Recipient, ...] = ()
    bcc: tuple[Recipient, ...] = ()
    regarding: RecordRef | None = None
    parent_email_id: str | None = None
    attachments: tuple[Attachment, ...] = ()
    importance: Importance = Importance.NORMAL


def create_draft(conn: Connection, now: datetime, draft: Draft, created_by: str | None = None) -> str:
    """Create a Draft e-mail with its parties and attachments; return its id."""
    if draft.sender.logical_name not in INTERNAL_TYPES:
        raise rows.invalid(
            "Invalid sender party: an e-mail must be sent by a user or a queue",
            hint="give a user's or queue's address as the sender",
        )
    owner = record_type(draft.sender.logical_name)
    owner_row = rows.require(conn, owner.table, draft.sender.id)
    sender_address = owner_row[owner.email_columns[0]]
    if draft.parent_email_id:
        rows.require(conn, email, draft.parent_email_id)
    email_id = rows.insert(
        conn,
        email,
        {
            "subject": draft.subject,
            "description": draft.body,
            "statecode": int(EmailStatus.DRAFT.state),
            "statuscode": int(EmailStatus.DRAFT),
            "directioncode": True,
            "sender": sender_address,
            "deliveryprioritycode": int(draft.importance),
            "sendermailboxid": owner_row["defaultmailbox"],
            "parentactivityid": draft.parent_email_id,
            "regardingobjectid": draft.regarding.id if draft.regarding else None,
            "regardingobjecttypecode": draft.regarding.logical_name if draft.regarding else None,
            "attachmentcount": len(draft.attachments),
            "createdby": created_by,
            "emailsender": draft.sender.id,
            "emailsendertypecode": draft.sender.logical_name,
        },
        now,
    )
    add_party(conn, now, email_id, ParticipationType.SENDER, sender_address, draft.sender)
    for mask, recipients in (
        (ParticipationType.TO_RECIPIENT, draft.to),
        (ParticipationType.CC_RECIPIENT, draft.cc),
        (ParticipationType.BCC_RECIPIENT, draft.bcc),
    ):
        for recipient in recipients:
            _add_recipient(conn, now, email_id, mask, recipient)
    for number, item in enumerate(draft.attachments, start=1):
        store_attachment(conn, now, email_id, item, number)
    return email_id


def _add_recipient(
    conn: Connection, now: datetime, email_id: str, mask: ParticipationType, who: Recipient
) -> None:
    if isinstance(who, RecordRef):
        kind = record_type(who.logical_name)
        address = rows.require(conn, kind.table, who.id)[kind.email_columns[0]] or ""
        add_party(conn, now, email_id, mask, address, describe(conn, who.logical_name, who.id))
        return
    if not is_valid_address(who.strip()):
        raise rows.invalid(f"{who!r} is not a valid e-mail address", hint="use the form name@domain.tld")
    add_party(conn, now, email_id, mask, who.strip())


def send(
    conn: Connection,
    org: OrgSettings,
    now: datetime,
    email_id: str,
    *,
    issue_send: bool,
    tracking_token: str | None,
    caller_id: str | None,
) -> SendResult:
    """SendEmail: Draft or Failed -> Pending Send (or Sent without ``issue_send``), with a tracking token."""
    row = rows.require(conn, email, email_id)
    status = EmailStatus(row["statuscode"])
    if status not in (EmailStatus.DRAFT, EmailStatus.FAILED) or not row["directioncode"]:
        raise rows.invalid(
            f"the e-mail is {status.label}; only an outgoing Draft or Failed e-mail can be sent",
            hint="compose a new e-mail",
            item_id=email_id,
        )
    parties = (
        conn.execute(select(activityparty).where(activityparty.c.activityid == email_id)).mappings().all()
    )
    _check_parties(org, email_id, parties)
    sender = next(p for p in parties if p["participationtypemask"] == ParticipationType.SENDER)
    user = sender["partyid"] if sender["partyobjecttypecode"] == "systemuser" else caller_id
    token = row["trackingtoken"] or (tracking_token or "").strip() or next_token(conn, org, user)
    subject = with_token(row["subject"], token)
    target = EmailStatus.PENDING_SEND if issue_send else EmailStatus.SENT
    values: dict[str, object] = {
        "subject": subject,
        "trackingtoken": token,
        "statecode": int(target.state),
        "statuscode": int(target),
        "deliveryattempts": 0,
        "deliverylastattemptedon": None,
    }
    if not issue_send:
        values.update(senton=now, actualend=now)
    rows.update(conn, email, email_id, values, now)
    return SendResult(email_id, subject, token, target)


def _check_parties(org: OrgSettings, email_id: str, parties: Sequence[RowMapping]) -> None:
    senders = [p for p in parties if p["participationtypemask"] == ParticipationType.SENDER]
    if not senders or senders[0]["partyobjecttypecode"] not in INTERNAL_TYPES:
        raise rows.invalid(
            "Invalid sender party: the sender must be a user or a queue",
            hint="set the From of the e-mail to a user or queue",
            item_id=email_id,
        )
    recipients = [p for p in parties if p["participationtypemask"] in (2, 3, 4)]
    if not recipients:
        raise rows.invalid(
            "the e-mail has no recipients", hint="add a To, Cc or Bcc recipient", item_id=email_id
        )
    unresolved = [p["addressused"] for p in recipients if p["partyid"] is None]
    if unresolved and not org.allow_unresolved_parties:
        raise rows.invalid(
            f"unresolved recipients are not allowed: {', '.join(unresolved)}",
            hint="create records for them or allow unresolved parties",
            item_id=email_id,
        )


NAMED_MAILBOXES = 20
"""Most mailbox ids a poll names in its statement; beyond that it asks by status alone and filters the few
rows found (idle: none) in memory, so a poll over 10,000 mailboxes does not bind 10,000 parameters."""


def pending(conn: Connection, query: Node, top: int) -> list[str]:
    """The ids of up to ``top`` outgoing Pending Send e-mails matching ``query``, oldest first."""
    waiting = and_(email.c.statuscode == int(EmailStatus.PENDING_SEND), email.c.directioncode == true())
    return list(
        conn.execute(
            select(email.c.activityid)
            .where(waiting, compile_node(email, query))
            .order_by(email.c.createdon, rows.rowid(email))
            .limit(max(top, 0))
        ).scalars()
    )


def pending_senders(conn: Connection, query: Node) -> set[str]:
    """The sender mailboxes of the outgoing Pending Send e-mails matching ``query``."""
    waiting = and_(email.c.statuscode == int(EmailStatus.PENDING_SEND), email.c.directioncode == true())
    senders = select(email.c.sendermailboxid).where(waiting, compile_node(email, query)).distinct()
    found = conn.execute(senders)
    return {str(mailbox_id) for mailbox_id in found.scalars() if mailbox_id}


def claim(conn: Connection, now: datetime, query: Node, top: int) -> list[str]:
    """BackgroundSendEmail: move up to ``top`` Pending Send e-mails matching ``query`` to Sending."""
    ids = pending(conn, query, top)
    if ids:  # One UPDATE for the batch, as ``rows.update`` makes it for each: the version goes up by one.
        conn.execute(
            sql_update(email)
            .where(email.c.activityid.in_(ids))
            .values(**claim_values(now), modifiedon=now, versionnumber=email.c.versionnumber + 1)
        )
    return ids


def claim_rows(conn: Connection, now: datetime, query: Node, top: int) -> list[RowMapping]:
    """``claim``, answering the claimed e-mails' rows as they are after it (oldest first): where the
    database returns updated rows, the UPDATE reads them back itself instead of a SELECT after it."""
    if not conn.dialect.update_returning:
        ids = claim(conn, now, query, top)
        found = {row["activityid"]: row for row in conn.execute(
            select(email).where(email.c.activityid.in_(ids))).mappings()} if ids else {}
        return [found[i] for i in ids if i in found]
    ids = pending(conn, query, top)
    if not ids:
        return []
    updated = conn.execute(
        sql_update(email)
        .where(email.c.activityid.in_(ids))
        .values(**claim_values(now), modifiedon=now, versionnumber=email.c.versionnumber + 1)
        .returning(*email.c)
    ).mappings()
    by_id = {row["activityid"]: row for row in updated}
    return [by_id[i] for i in ids if i in by_id]


def mark_sent(conn: Connection, now: datetime, sent: Sequence[SentEmail]) -> None:
    """Record successful sends (the PATCH the legacy router made for each): one UPDATE statement run
    for every e-mail (executemany); an e-mail that does not exist raises the CRM's "does not exist"."""
    if not sent:
        return
    params = []
    for item in sent:
        values = sent_values(item.message_id, item.sent_on)
        check_status_pair(values, item.email_id)
        params.append({**{f"_{name}": value for name, value in values.items()}, "_activityid": item.email_id})
    columns = sent_values("", now).keys()
    stmt = (
        sql_update(email)
        .where(email.c.activityid == bindparam("_activityid"))
        .values(**{name: bindparam(f"_{name}") for name in columns}, modifiedon=now,
                versionnumber=email.c.versionnumber + 1)
    )
    if conn.execute(stmt, params).rowcount != len(sent):
        for item in sent:
            rows.require(conn, email, item.email_id)  # Raises the CRM's "does not exist".


def release_stuck(conn: Connection, now: datetime, mailbox_ids: Sequence[str], cutoff: datetime) -> list[str]:
    """Put back to Pending Send the e-mails of these mailboxes Sending since before ``cutoff``.

    Up to ``NAMED_MAILBOXES`` mailboxes are named in the statement; a deployment's thousands are not (the
    e-mails in Sending are found by status through its index, and those of other mailboxes dropped here).
    """
    wanted = {str(m).lower() for m in mailbox_ids}
    stuck = and_(
        email.c.statuscode == int(EmailStatus.SENDING),
        or_(email.c.deliverylastattemptedon.is_(None), email.c.deliverylastattemptedon < cutoff),
    )
    if len(wanted) <= NAMED_MAILBOXES:
        stuck = and_(stuck, email.c.sendermailboxid.in_(list(mailbox_ids)))
    found = conn.execute(select(email.c.activityid, email.c.sendermailboxid).where(stuck))
    ids = [activity for activity, sender in found if sender is not None and str(sender).lower() in wanted]
    if ids:
        conn.execute(
            sql_update(email)
            .where(email.c.activityid.in_(ids))
            .values(
                statuscode=int(EmailStatus.PENDING_SEND),
                statecode=int(EmailStatus.PENDING_SEND.state),
                modifiedon=now,
                versionnumber=email.c.versionnumber + 1,
            )
        )
    return ids


def check_status_pair(values: dict[str, object], email_id: str) -> None:
    """Refuse an update whose statecode and statuscode do not belong together (as Dynamics does)."""
    if "statuscode" not in values:
        return
    try:
        status = EmailStatus(int(values["statuscode"]))  # type: ignore[call-overload]
    except ValueError as exc:
        raise rows.invalid(
            f"{values['statuscode']} is not a valid e-mail status code", hint="1 to 8", item_id=email_id
        ) from exc
    state = values.get("statecode", int(status.state))
    if state != int(status.state):
        raise rows.invalid(
            f"email statecode {state} does not have valid status code {int(status)}",
            hint=f"statuscode {int(status)} requires statecode {int(status.state)}",
            item_id=email_id,
        )

"""DeliverIncomingEmail: turn an accepted message into a Received e-mail activity, exactly once.

Idempotent by Message-ID: when the message is already tracked (delivered before, or through another
recipient's mailbox) the existing activity is returned, and recipients it did not list yet are added as
parties, never a second activity. A new activity gets its parties resolved, its correlation and regarding
record, its attachments within the organisation's size limit, and notes for what could not be kept.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, func, select

from router.crm.addresses import from_wire, normalize
from router.crm.codes import CorrelationMethod, EmailStatus, Notification, ParticipationType, ReasonCode
from router.crm.embedded import rows
from router.crm.embedded.correlation import canonical_conversation_index
from router.crm.embedded.filtering import Decision, decide, sender_address
from router.crm.embedded.notes import add_note
from router.crm.embedded.organization import OrgSettings
from router.crm.embedded.records import resolve_address
from router.crm.embedded.schema import activitymimeattachment, activityparty, email, mailbox
from router.crm.gateway import Attachment, RecordRef
from router.crm.messages import IncomingMessage

#: Dynamics' limit on ``email.description`` (characters).
DESCRIPTION_MAX = 1_073_741_823
SUBJECT_MAX = 800
RECIPIENTS_MAX = 500


_EXISTING = (
    select(email.c.activityid)
    .where(func.lower(email.c.messageid) == bindparam("wanted"))
    .order_by(email.c.createdon, rows.rowid(email))
    .limit(1)
)
"""The activity already tracked for a Message-ID (lower case), oldest first; built once."""


@dataclass(frozen=True)
class Delivered:
    """The activity id and whether this call created it."""

    email_id: str
    created_new: bool
    written: Mapping[str, Any] | None = field(default=None, compare=False, repr=False)
    """The columns this call wrote to the new activity (None when it found an existing one), so the
    answer need not read back the row it has just inserted."""


def deliver(
    conn: Connection,
    org: OrgSettings,
    now: datetime,
    msg: IncomingMessage,
    *,
    max_description: int = DESCRIPTION_MAX,
    validate: bool = False,
    decision: Decision | None = None,
) -> Delivered:
    """Create the Received activity for ``msg`` (or return the one already tracked).

    ``decision``: CheckIncomingEmail's answer for ``msg`` made earlier in this same transaction (the
    batch of ``incoming``), which deciding again would repeat exactly.
    """
    # A decision of this transaction that found no duplicate already looked for the activity (same query).
    known_new = decision is not None and decision.reason is not ReasonCode.DUPLICATE
    existing = None if known_new else conn.execute(_EXISTING, {"wanted": msg.message_id.lower()}).scalar()
    if existing is not None:
        _add_missing_recipients(conn, now, existing, msg)
        return Delivered(existing, False)
    if decision is None:
        decision = decide(conn, org, msg)
    if validate and not decision.should_deliver:
        raise rows.invalid(
            f"the e-mail {msg.message_id} was not accepted ({decision.reason.name})",
            hint="call CheckIncomingEmail first",
            item_id=msg.message_id,
        )
    dropped = _too_large(org, msg.attachments)
    email_id, written = _insert_email(conn, org, now, msg, decision, max_description, dropped)
    _add_parties(conn, now, email_id, msg)
    _store_attachments(conn, org, now, email_id, msg.attachments, dropped)
    return Delivered(email_id, True, written)


def _insert_email(
    conn: Connection,
    org: OrgSettings,
    now: datetime,
    msg: IncomingMessage,
    decision: Decision,
    limit: int,
    dropped: dict[int, str],
) -> tuple[str, dict[str, Any]]:
    """Insert the activity with its final attachment count and notification (one statement); its id
    and the columns written."""
    correlation = decision.correlation
    parent = correlation.parent if correlation else None
    body, truncated = (msg.body[:limit], True) if len(msg.body) > limit else (msg.body, False)
    receiving = decision.accepting.mailbox_id if decision.accepting else _receiving_mailbox(conn, msg)
    sender = decision.sender or resolve_address(conn, sender_address(msg))
    values: dict[str, Any] = {
        "subject": msg.subject[:SUBJECT_MAX],
        "description": body,
        "statecode": int(EmailStatus.RECEIVED.state),
        "statuscode": int(EmailStatus.RECEIVED),
        "directioncode": False,
        "messageid": msg.message_id,
        "inreplyto": msg.in_reply_to,
        "conversationindex": canonical_conversation_index(msg.conversation_index),
        "sender": msg.sender,
        "torecipients": msg.to[:RECIPIENTS_MAX],
        "submittedby": msg.submitted_by,
        "deliveryprioritycode": int(msg.importance),
        "actualend": msg.received_on,
        "correlationmethod": int(correlation.method if correlation else CorrelationMethod.NONE),
        "parentactivityid": parent["activityid"] if parent else None,
        "correlatedactivityid": parent["activityid"] if parent else None,
        "regardingobjectid": parent["regardingobjectid"] if parent else None,
        "regardingobjecttypecode": parent["regardingobjecttypecode"] if parent else None,
        "receivingmailboxid": receiving,
        "acceptingentityid": decision.accepting.owner.id if decision.accepting else None,
        "acceptingentitytypecode": decision.accepting.owner.logical_name if decision.accepting else None,
        "emailsender": sender.id if sender else None,
        "emailsendertypecode": sender.logical_name if sender else None,
        "notifications": int(
            Notification.ATTACHMENTS_NOT_SAVED
            if dropped
            else Notification.BODY_TRUNCATED if truncated else Notification.NONE
        ),
        "attachmentcount": len(msg.attachments) - len(dropped),
    }
    email_id = rows.insert(conn, email, values, now)
    if truncated:
        add_note(
            conn,
            now,
            email_id,
            "Body truncated",
            f"The body had {len(msg.body)} characters; only the first {limit} were kept.",
        )
    return email_id, values


def _receiving_mailbox(conn: Connection, msg: IncomingMessage) -> str | None:
    addresses = [normalize(a) for a in (*from_wire(msg.bcc), *from_wire(msg.to), *from_wire(msg.cc))]
    if not addresses:
        return None
    return conn.execute(
        select(mailbox.c.mailboxid).where(func.lower(mailbox.c.emailaddress).in_(addresses)).limit(1)
    ).scalar()


def _add_parties(conn: Connection, now: datetime, email_id: str, msg: IncomingMessage) -> None:
    """Add the sender and every recipient as parties, in one statement."""
    sender = sender_address(msg)
    parties = [(ParticipationType.SENDER, sender)] if sender else []
    for mask, text in (
        (ParticipationType.TO_RECIPIENT, msg.to),
        (ParticipationType.CC_RECIPIENT, msg.cc),
        (ParticipationType.BCC_RECIPIENT, msg.bcc),
    ):
        parties.extend((mask, address) for address in from_wire(text))
    values = [_party(conn, email_id, mask, address) for mask, address in parties]
    rows.insert_many(conn, activityparty, values, now)


def add_party(
    conn: Connection,
    now: datetime,
    email_id: str,
    mask: ParticipationType,
    address: str,
    record: RecordRef | None = None,
) -> None:
    """Add one party, resolving ``address`` to a record unless ``record`` is given (unresolved if none)."""
    rows.insert(conn, activityparty, _party(conn, email_id, mask, address, record), now)


def _party(
    conn: Connection, email_id: str, mask: ParticipationType, address: str, record: RecordRef | None = None
) -> dict[str, object]:
    """The activityparty row of one party (``address`` resolved to a record unless ``record`` is given)."""
    ref = record or resolve_address(conn, address)
    return {
        "activityid": email_id,
        "participationtypemask": int(mask),
        "addressused": address,
        "partyid": ref.id if ref else None,
        "partyobjecttypecode": ref.logical_name if ref else None,
    }


def _add_missing_recipients(conn: Connection, now: datetime, email_id: str, msg: IncomingMessage) -> None:
    known = {
        normalize(a or "")
        for a in conn.execute(
            select(activityparty.c.addressused).where(activityparty.c.activityid == email_id)
        ).scalars()
    }
    for address in from_wire(msg.bcc):
        if normalize(address) not in known:
            add_party(conn, now, email_id, ParticipationType.BCC_RECIPIENT, address)
            known.add(normalize(address))


def _too_large(org: OrgSettings, attachments: tuple[Attachment, ...]) -> dict[int, str]:
    """The attachments (by number) larger than the organisation's limit, each described for the note."""
    return {
        number: f"{item.filename or f'attachment {number}'} ({item.size} bytes)"
        for number, item in enumerate(attachments, start=1)
        if item.size > org.max_upload_size
    }


def _store_attachments(
    conn: Connection,
    org: OrgSettings,
    now: datetime,
    email_id: str,
    attachments: tuple[Attachment, ...],
    dropped: dict[int, str],
) -> None:
    for number, item in enumerate(attachments, start=1):
        if number not in dropped:
            store_attachment(conn, now, email_id, item, number)
    if dropped:
        add_note(
            conn,
            now,
            email_id,
            "Attachments not saved",
            f"Larger than the limit of {org.max_upload_size} bytes: {', '.join(dropped.values())}.",
        )


def store_attachment(conn: Connection, now: datetime, email_id: str, item: Attachment, number: int) -> str:
    """Store one attachment of ``email_id`` (body as Base64, as Dynamics keeps it)."""
    return rows.insert(
        conn,
        activitymimeattachment,
        {
            "objectid": email_id,
            "objecttypecode": "email",
            "filename": item.filename or f"attachment{number}",
            "mimetype": item.mime_type or "application/octet-stream",
            "body": base64.b64encode(item.content).decode("ascii"),
            "filesize": item.size,
            "attachmentcontentid": item.content_id,
            "attachmentnumber": number,
        },
        now,
    )

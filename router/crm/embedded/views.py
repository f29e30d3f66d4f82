"""Read models of the embedded CRM: one e-mail with everything attached to it, and its outgoing form."""

from __future__ import annotations

import base64
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Connection, RowMapping, Table, select

from router.crm.codes import Importance, ParticipationType
from router.crm.embedded import rows
from router.crm.embedded.records import describe
from router.crm.embedded.schema import activitymimeattachment, activityparty, annotation, email
from router.crm.gateway import Attachment, OutgoingEmail, Party, RecordRef, reply_headers


@dataclass(frozen=True)
class EmailView:
    """An e-mail row with its parties, attachments, notes, regarding record and parent e-mail."""

    row: RowMapping
    parties: tuple[tuple[ParticipationType, Party], ...]
    attachments: tuple[RowMapping, ...]
    notes: tuple[RowMapping, ...]
    regarding: RecordRef | None
    parent: RowMapping | None

    def party_list(self, role: ParticipationType) -> tuple[Party, ...]:
        """The parties in ``role`` (e.g. all To recipients), in the order they were added."""
        return tuple(party for mask, party in self.parties if mask is role)


def email_view(conn: Connection, email_id: str) -> EmailView:
    """Return the full view of one e-mail, or raise CrmRecordNotFoundError."""
    row = rows.require(conn, email, email_id)
    party_rows = conn.execute(
        select(activityparty)
        .where(activityparty.c.activityid == email_id)
        .order_by(rows.rowid(activityparty))
    ).mappings()
    parties = tuple(
        (
            ParticipationType(p["participationtypemask"]),
            Party(p["addressused"] or "", describe(conn, p["partyobjecttypecode"], p["partyid"])),
        )
        for p in party_rows
    )
    attachments = tuple(
        conn.execute(
            select(activitymimeattachment)
            .where(activitymimeattachment.c.objectid == email_id)
            .order_by(activitymimeattachment.c.attachmentnumber)
        ).mappings()
    )
    notes = tuple(
        conn.execute(
            select(annotation).where(annotation.c.objectid == email_id).order_by(rows.rowid(annotation))
        ).mappings()
    )
    parent = rows.get(conn, email, row["parentactivityid"]) if row["parentactivityid"] else None
    regarding = describe(conn, row["regardingobjecttypecode"], row["regardingobjectid"])
    return EmailView(row, parties, attachments, notes, regarding, parent)


def email_views(conn: Connection, email_ids: Sequence[str], *, read: Sequence[RowMapping] = (),
                with_notes: bool = True) -> list[EmailView]:
    """The views of several e-mails, in the order of ``email_ids``, read with one query per table.

    The same as ``email_view`` of each (an id without a row raises CrmRecordNotFoundError), for the
    batch BackgroundSendEmail hands out: the claim reads its e-mails without a round of queries each.
    ``read``: e-mail rows the caller has already (the claim's UPDATE returns them), not read again;
    ``with_notes=False`` leaves the notes out (empty), for a caller that does not use them.
    """
    ids = list(email_ids)
    if not ids:
        return []
    found = {row["activityid"]: row for row in read}
    missing = [i for i in ids if i not in found]
    if missing:
        selected = conn.execute(select(email).where(email.c.activityid.in_(missing))).mappings()
        found.update((row["activityid"], row) for row in selected)
    names = _Names(conn)
    parties = _grouped(conn, activityparty, activityparty.c.activityid, ids, rows.rowid(activityparty))
    attachments = _grouped(conn, activitymimeattachment, activitymimeattachment.c.objectid, ids,
                           activitymimeattachment.c.attachmentnumber)
    notes = (_grouped(conn, annotation, annotation.c.objectid, ids, rows.rowid(annotation)) if with_notes
             else {})
    views = []
    for email_id in ids:
        row = found.get(email_id) or rows.require(conn, email, email_id)
        party_list = tuple(
            (ParticipationType(p["participationtypemask"]),
             Party(p["addressused"] or "", names.describe(p["partyobjecttypecode"], p["partyid"])))
            for p in parties.get(email_id, ()))
        parent = rows.get(conn, email, row["parentactivityid"]) if row["parentactivityid"] else None
        regarding = names.describe(row["regardingobjecttypecode"], row["regardingobjectid"])
        views.append(EmailView(row, party_list, tuple(attachments.get(email_id, ())),
                               tuple(notes.get(email_id, ())), regarding, parent))
    return views


def _grouped(conn: Connection, table: Table, key: ColumnElement[Any], ids: list[str],
             order: ColumnElement[Any]) -> dict[str, list[RowMapping]]:
    """The rows of ``table`` whose ``key`` is one of ``ids``, grouped by it, each group in ``order``."""
    groups: dict[str, list[RowMapping]] = defaultdict(list)
    for row in conn.execute(select(table).where(key.in_(ids)).order_by(order)).mappings():
        groups[row[key.name]].append(row)
    return groups


class _Names:
    """``describe`` with the answers of one batch remembered (many e-mails share a sender)."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._known: dict[tuple[str | None, str | None], RecordRef | None] = {}

    def describe(self, logical_name: str | None, record_id: str | None) -> RecordRef | None:
        key = (logical_name, record_id)
        if key not in self._known:
            self._known[key] = describe(self._conn, logical_name, record_id)
        return self._known[key]


def outgoing_email(view: EmailView) -> OutgoingEmail:
    """Return the contract's OutgoingEmail for a claimed e-mail."""
    row = view.row
    parent = view.parent
    in_reply_to, references = reply_headers(
        parent["messageid"] if parent else None, parent["inreplyto"] if parent else None
    )
    senders = view.party_list(ParticipationType.SENDER)
    return OutgoingEmail(
        email_id=row["activityid"],
        subject=row["subject"],
        body_html=row["description"],
        sender=senders[0] if senders else Party(row["sender"] or ""),
        sender_mailbox_id=row["sendermailboxid"] or "",
        to=view.party_list(ParticipationType.TO_RECIPIENT),
        cc=view.party_list(ParticipationType.CC_RECIPIENT),
        bcc=view.party_list(ParticipationType.BCC_RECIPIENT),
        attachments=tuple(
            Attachment(a["filename"], a["mimetype"], base64.b64decode(a["body"]), a["attachmentcontentid"])
            for a in view.attachments
        ),
        importance=Importance(row["deliveryprioritycode"]),
        tracking_token=row["trackingtoken"],
        in_reply_to=in_reply_to,
        references=references,
        parent_conversation_index=(parent["conversationindex"] or None) if parent else None,
        regarding=view.regarding,
        delivery_attempts=row["deliveryattempts"],
    )

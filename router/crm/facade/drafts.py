"""Creating rows through the facade: e-mails with their parties, attachments, notes, customer records.

An e-mail is created as a Draft from the documented deep insert (``email_activity_parties`` with
``partyid_<table>@odata.bind`` or ``addressused``); the sender must be bound to a user or queue, as in
Dynamics ("Invalid sender party"). Attachments and notes are bound to their e-mail with
``objectid_email@odata.bind``.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select

from router.crm.addresses import is_valid_address
from router.crm.codes import Importance, ParticipationType
from router.crm.embedded import rows
from router.crm.embedded.delivery import store_attachment
from router.crm.embedded.notes import add_note
from router.crm.embedded.outgoing import Draft, Recipient, create_draft
from router.crm.embedded.records import describe, record_type
from router.crm.embedded.schema import activitymimeattachment, email
from router.crm.facade.entities import BY_NAME, EntitySet
from router.crm.facade.serialize import parse_changes
from router.crm.gateway import Attachment, RecordRef

_EMAIL_FIELDS = frozenset(
    {
        "subject",
        "description",
        "deliveryprioritycode",
        "directioncode",
        "regardingobjectid",
        "regardingobjecttypecode",
        "parentactivityid",
    }
)


def create_email(
    conn: Connection, now: datetime, entity_set: EntitySet, body: Mapping[str, Any], caller: str | None
) -> str:
    """Create a Draft e-mail from a deep-insert body; return its id."""
    changes = parse_changes(entity_set, body, creating=True)
    extra = set(changes.values) - _EMAIL_FIELDS
    if extra:
        raise rows.invalid(
            f"creating an e-mail through the facade does not support {', '.join(sorted(extra))}",
            hint=f"set only {', '.join(sorted(_EMAIL_FIELDS))} and email_activity_parties",
        )
    if changes.values.get("directioncode") is False:
        raise rows.invalid(
            "only outgoing e-mails can be created", hint="incoming mail arrives through DeliverIncomingEmail"
        )
    values = changes.values
    parties = [_party(p) for p in changes.collections.get("email_activity_parties", [])]
    senders = [who for mask, who in parties if mask is ParticipationType.SENDER]
    if len(senders) != 1 or not isinstance(senders[0], RecordRef):
        raise rows.invalid(
            "Invalid sender party: bind exactly one sender (participationtypemask 1) to a "
            "systemuser or queue",
            hint='e.g. "partyid_systemuser@odata.bind": "/systemusers(<id>)"',
        )
    regarding = describe(
        conn, _str(values.get("regardingobjecttypecode")), _str(values.get("regardingobjectid"))
    )
    draft = Draft(
        sender=senders[0],
        subject=str(values.get("subject") or ""),
        body=str(values.get("description") or ""),
        to=_role(parties, ParticipationType.TO_RECIPIENT),
        cc=_role(parties, ParticipationType.CC_RECIPIENT),
        bcc=_role(parties, ParticipationType.BCC_RECIPIENT),
        regarding=regarding,
        parent_email_id=_str(values.get("parentactivityid")),
        importance=Importance(int(str(values.get("deliveryprioritycode", 1)))),
    )
    return create_draft(conn, now, draft, caller)


def _str(value: object) -> str | None:
    return None if value is None else str(value)


def _party(item: Mapping[str, Any]) -> tuple[ParticipationType, Recipient]:
    values = parse_changes(BY_NAME["activityparties"], item, creating=True).values
    try:
        mask = ParticipationType(int(str(values.get("participationtypemask"))))
    except ValueError as exc:
        raise rows.invalid(
            f"party {dict(item)!r} has no valid participationtypemask", hint="1 sender, 2 to, 3 cc, 4 bcc"
        ) from exc
    if values.get("partyid"):
        return mask, RecordRef(str(values["partyobjecttypecode"]), str(values["partyid"]))
    address = str(values.get("addressused") or "")
    if not address:
        raise rows.invalid("a party needs partyid_<table>@odata.bind or addressused", hint="give one of them")
    return mask, address


def _role(
    parties: list[tuple[ParticipationType, Recipient]], role: ParticipationType
) -> tuple[Recipient, ...]:
    return tuple(who for mask, who in parties if mask is role)


def create_attachment(
    conn: Connection, now: datetime, entity_set: EntitySet, body: Mapping[str, Any], caller: str | None
) -> str:
    """Attach a file (Base64 ``body``) to the e-mail bound by ``objectid_email@odata.bind``."""
    values = parse_changes(entity_set, body, creating=True).values
    email_id = _bound_email(conn, values)
    try:
        content = base64.b64decode(str(values.get("body") or ""), validate=True)
    except binascii.Error as exc:
        raise rows.invalid(
            "the attachment body is not valid Base64", hint="encode the file in Base64"
        ) from exc
    number = (
        conn.execute(
            select(func.max(activitymimeattachment.c.attachmentnumber)).where(
                activitymimeattachment.c.objectid == email_id
            )
        ).scalar()
        or 0
    ) + 1
    content_id = values.get("attachmentcontentid")
    item = Attachment(
        str(values.get("filename") or f"attachment{number}"),
        str(values.get("mimetype") or "application/octet-stream"),
        content,
        str(content_id) if content_id else None,
    )
    new_id = store_attachment(conn, now, email_id, item, number)
    count = rows.require(conn, email, email_id)["attachmentcount"]
    rows.update(conn, email, email_id, {"attachmentcount": count + 1}, now)
    return new_id


def create_note(
    conn: Connection, now: datetime, entity_set: EntitySet, body: Mapping[str, Any], caller: str | None
) -> str:
    """Add a note (annotation) to the e-mail bound by ``objectid_email@odata.bind``."""
    values = parse_changes(entity_set, body, creating=True).values
    email_id = _bound_email(conn, values)
    return add_note(conn, now, email_id, str(values.get("subject") or ""), str(values.get("notetext") or ""))


def _bound_email(conn: Connection, values: Mapping[str, object]) -> str:
    email_id = values.get("objectid")
    if not email_id:
        raise rows.invalid("bind the e-mail with objectid_email@odata.bind", hint='"/emails(<activityid>)"')
    rows.require(conn, email, str(email_id))
    return str(email_id)


def create_record(
    conn: Connection, now: datetime, entity_set: EntitySet, body: Mapping[str, Any], caller: str | None
) -> str:
    """Create a contact, account or lead (a name and valid e-mail addresses)."""
    values = parse_changes(entity_set, body, creating=True).values
    kind = record_type(entity_set.logical_name)
    if not values.get(kind.name_column):
        raise rows.invalid(f"a {kind.logical_name} needs '{kind.name_column}'", hint="give the record a name")
    for column in kind.email_columns:
        address = values.get(column)
        if address and not is_valid_address(str(address)):
            raise rows.invalid(f"{column} {address!r} is not a valid e-mail address", hint="name@domain.tld")
    return rows.insert(conn, entity_set.table, values, now)

"""Web API JSON to the contract's values: parties, records, outgoing e-mails, mailboxes."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from router.crm.codes import (
    Approval,
    FilteringMethod,
    Importance,
    IncomingDeliveryMethod,
    MailboxTestStatus,
    OutgoingDeliveryMethod,
    OwnerType,
    ParticipationType,
)
from router.crm.gateway import Attachment, MailboxInfo, OutgoingEmail, Party, RecordRef, reply_headers
from router.errors import CrmPermanentError

LOGICAL_NAME = "Microsoft.Dynamics.CRM.lookuplogicalname"
FORMATTED = "OData.Community.Display.V1.FormattedValue"
#: The Prefer annotations the adapter asks for when it needs lookup targets and names.
LOOKUP_ANNOTATIONS = f"{LOGICAL_NAME},{FORMATTED}"


def lookup(entity: Mapping[str, Any], column: str) -> RecordRef | None:
    """The record a lookup column (e.g. ``regardingobjectid``) points to, with its table and name."""
    value = entity.get(f"_{column}_value")
    if not value:
        return None
    target = entity.get(f"_{column}_value@{LOGICAL_NAME}") or ""
    return RecordRef(str(target), str(value), str(entity.get(f"_{column}_value@{FORMATTED}") or ""))


def party(entity: Mapping[str, Any]) -> Party:
    """An activity party: the address used and the resolved record, if any."""
    return Party(str(entity.get("addressused") or ""), lookup(entity, "partyid"))


def attachment(entity: Mapping[str, Any]) -> Attachment:
    """An activitymimeattachment with its Base64 body decoded."""
    name = str(entity.get("filename") or "attachment")
    try:
        content = base64.b64decode(str(entity.get("body") or ""), validate=True)
    except binascii.Error as exc:
        raise CrmPermanentError(
            f"the CRM returned attachment {name!r} with a body that is not Base64",
            item_id=str(entity.get("activitymimeattachmentid")),
            hint="re-attach the file in the CRM",
        ) from exc
    content_id = entity.get("attachmentcontentid")
    return Attachment(
        name,
        str(entity.get("mimetype") or "application/octet-stream"),
        content,
        str(content_id) if content_id else None,
    )


def outgoing_email(entity: Mapping[str, Any], parent: Mapping[str, Any] | None) -> OutgoingEmail:
    """A claimed e-mail (expanded with its parties and attachments) as the contract's OutgoingEmail."""
    parties = [
        (ParticipationType(int(p["participationtypemask"])), party(p))
        for p in entity.get("email_activity_parties") or []
    ]
    by_role = {role: tuple(p for r, p in parties if r is role) for role in ParticipationType}
    senders = by_role[ParticipationType.SENDER]
    in_reply_to, references = reply_headers(
        str(parent.get("messageid") or "") if parent else None,
        str(parent.get("inreplyto") or "") if parent else None,
    )
    return OutgoingEmail(
        email_id=str(entity["activityid"]),
        subject=str(entity.get("subject") or ""),
        body_html=str(entity.get("description") or ""),
        sender=senders[0] if senders else Party(str(entity.get("sender") or "")),
        sender_mailbox_id=str(entity.get("_sendermailboxid_value") or ""),
        to=by_role[ParticipationType.TO_RECIPIENT],
        cc=by_role[ParticipationType.CC_RECIPIENT],
        bcc=by_role[ParticipationType.BCC_RECIPIENT],
        attachments=tuple(attachment(a) for a in entity.get("email_activity_mime_attachment") or []),
        importance=Importance(int(entity.get("deliveryprioritycode", 1) or 0)),
        tracking_token=entity.get("trackingtoken") or None,
        in_reply_to=in_reply_to,
        references=references,
        parent_conversation_index=str(parent.get("conversationindex") or "") or None if parent else None,
        regarding=lookup(entity, "regardingobjectid"),
        delivery_attempts=int(entity.get("deliveryattempts") or 0),
    )


def timestamp(value: object) -> datetime | None:
    """A Web API date-time string as an aware datetime."""
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")) if value else None


def mailbox_info(
    box: Mapping[str, Any], owner_name: str, filtering: int, approval_required: bool
) -> MailboxInfo:
    """A mailbox row (and facts about its owner) as the contract's MailboxInfo."""
    owner_type = (
        OwnerType.QUEUE
        if box.get(f"_regardingobjectid_value@{LOGICAL_NAME}") == "queue"
        else OwnerType.SYSTEMUSER
    )
    return MailboxInfo(
        mailbox_id=str(box["mailboxid"]),
        name=str(box.get("name") or ""),
        address=str(box.get("emailaddress") or ""),
        owner=RecordRef(owner_type.logical_name, str(box["_regardingobjectid_value"]), owner_name),
        owner_type=owner_type,
        incoming_method=IncomingDeliveryMethod(int(box.get("incomingemaildeliverymethod") or 0)),
        outgoing_method=OutgoingDeliveryMethod(int(box.get("outgoingemaildeliverymethod") or 0)),
        approval=Approval(int(box.get("emailrouteraccessapproval") or 0)),
        approval_required=approval_required,
        filtering=FilteringMethod(filtering),
        incoming_status=MailboxTestStatus(int(box.get("incomingemailstatus") or 0)),
        outgoing_status=MailboxTestStatus(int(box.get("outgoingemailstatus") or 0)),
        enabled_incoming=bool(box.get("enabledforincomingemail")),
        enabled_outgoing=bool(box.get("enabledforoutgoingemail")),
        is_forward_mailbox=bool(box.get("isforwardmailbox")),
        process_email_received_after=timestamp(box.get("processemailreceivedafter")),
    )

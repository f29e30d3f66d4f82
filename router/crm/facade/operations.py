"""The SDK messages the facade serves, with the parameters and responses the real ``$metadata`` declares.

CheckIncomingEmail (unbound function), DeliverIncomingEmail (action bound to the ``emails``
collection, returns the e-mail), BackgroundSendEmail and GetTrackingTokenEmail (unbound actions),
SendEmail (action bound to one e-mail) and WhoAmI. Non-nullable parameters are required; a missing one
is refused by name.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from router.crm.codes import Importance
from router.crm.embedded import outgoing, rows
from router.crm.embedded.crm import EmbeddedCrm
from router.crm.embedded.rows import invalid
from router.crm.embedded.schema import email
from router.crm.facade.entities import BY_NAME
from router.crm.facade.query_parsers import parse_query
from router.crm.facade.routing import NAMESPACE, Reply, Request
from router.crm.facade.serialize import Prefer, row_json
from router.crm.gateway import Attachment
from router.crm.messages import IncomingMessage

MAX_PAGE = 5000
_ADDRESS_PARAMETERS = ("From", "To", "Cc", "Bcc")
_EXTRA_COLUMNS = ("inreplyto", "conversationindex")


def _required(params: Mapping[str, Any], name: str, operation: str) -> Any:
    if name not in params or params[name] is None:
        raise invalid(
            f"the parameter '{name}' is required by {operation} (it is not nullable)",
            hint=f"send {name}, as an empty string or list when there is nothing to send",
        )
    return params[name]


def _text(params: Mapping[str, Any], name: str, operation: str) -> str:
    value = _required(params, name, operation)
    if not isinstance(value, str):
        raise invalid(f"{operation}: the parameter '{name}' must be a string", hint="send Edm.String")
    return value


def _extra(value: object) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise invalid("ExtraProperties must be an email entity (a JSON object)", hint="or null")
    unknown = [k for k in value if not k.startswith("@") and k not in _EXTRA_COLUMNS]
    if unknown:
        raise invalid(
            f"ExtraProperties: {', '.join(unknown)} not supported",
            hint=f"the facade reads {', '.join(_EXTRA_COLUMNS)}",
        )
    return {k: str(value[k]) for k in _EXTRA_COLUMNS if value.get(k)}


def _message(params: Mapping[str, Any], operation: str, *, full: bool) -> IncomingMessage:
    addresses = {name: _text(params, name, operation) for name in _ADDRESS_PARAMETERS}
    extra = _extra(params.get("ExtraProperties"))
    received = _received_on(params, operation) if full else datetime.fromtimestamp(0, UTC)
    return IncomingMessage(
        message_id=_text(params, "MessageId", operation),
        subject=str(params.get("Subject") or ""),
        sender=addresses["From"],
        to=addresses["To"],
        cc=addresses["Cc"],
        bcc=addresses["Bcc"],
        received_on=received,
        submitted_by=_text(params, "SubmittedBy", operation) if full else "",
        importance=_importance(params, operation) if full else Importance.NORMAL,
        body=_text(params, "Body", operation) if full else "",
        attachments=_attachments(_required(params, "Attachments", operation)) if full else (),
        in_reply_to=extra.get("inreplyto"),
        conversation_index=extra.get("conversationindex"),
    )


def _received_on(params: Mapping[str, Any], operation: str) -> datetime:
    text = _text(params, "ReceivedOn", operation)
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise invalid(
            f"ReceivedOn {text!r} is not an ISO 8601 date-time", hint="e.g. 2024-05-01T10:00:00Z"
        ) from exc
    if value.tzinfo is None:
        raise invalid(f"ReceivedOn {text!r} has no time zone", hint="end it with Z or an offset")
    return value


def _importance(params: Mapping[str, Any], operation: str) -> Importance:
    value = _required(params, "Importance", operation)
    try:
        return Importance(int(value))
    except (TypeError, ValueError) as exc:
        raise invalid(f"Importance {value!r} is not 0, 1 or 2", hint='"0" low, "1" normal, "2" high') from exc


def _attachments(items: object) -> tuple[Attachment, ...]:
    if not isinstance(items, list):
        raise invalid("Attachments must be a collection of activitymimeattachment", hint="send [] when none")
    return tuple(_attachment(item, number) for number, item in enumerate(items, start=1))


def _attachment(item: object, number: int) -> Attachment:
    if not isinstance(item, Mapping):
        raise invalid(
            f"attachment {number} is not an activitymimeattachment object", hint="send JSON objects"
        )
    name = str(item.get("filename") or f"attachment{number}")
    try:
        content = base64.b64decode(str(item.get("body") or ""), validate=True)
    except binascii.Error as exc:
        raise invalid(
            f"attachment {name!r} has no valid Base64 body", hint="encode the content in Base64"
        ) from exc
    content_id = item.get("attachmentcontentid")
    mime = str(item.get("mimetype") or "application/octet-stream")
    return Attachment(name, mime, content, str(content_id) if content_id else None)


def _complex(request: Request, name: str, values: dict[str, object]) -> Reply:
    return Reply(200, {"@odata.context": f"{request.base_url}$metadata#{NAMESPACE}{name}", **values})


def check_incoming(crm: EmbeddedCrm, request: Request, params: Mapping[str, Any]) -> Reply:
    """GET CheckIncomingEmail(MessageId=…,Subject=…,From=…,To=…,Cc=…,Bcc=…,ExtraProperties=…)."""
    result = crm.check_incoming_email(request.principal, _message(params, "CheckIncomingEmail", full=False))
    return _complex(
        request,
        "CheckIncomingEmailResponse",
        {"ShouldDeliver": result.should_deliver, "ReasonCode": int(result.reason)},
    )


def deliver_incoming(crm: EmbeddedCrm, request: Request) -> Reply:
    """POST emails/Microsoft.Dynamics.CRM.DeliverIncomingEmail; returns the e-mail."""
    params = request.json()
    validate = bool(params.get("ValidateBeforeCreate") or False)
    delivered = crm.deliver_incoming_email(
        request.principal, _message(params, "DeliverIncomingEmail", full=True), validate=validate
    )
    with crm.reading() as conn:
        row = rows.require(conn, email, delivered.email_id)
        body = row_json(
            conn, BY_NAME["emails"], row, select=None, prefer=Prefer.parse(request.headers.get("Prefer"))
        )
    return Reply(200, {"@odata.context": f"{request.base_url}$metadata#emails/$entity", **body})


def background_send(crm: EmbeddedCrm, request: Request, *, claims: bool = True) -> Reply:
    """POST BackgroundSendEmail {Query}: the matching Pending Send e-mails, moved to Sending if ``claims``."""
    query = request.json().get("Query")
    if not isinstance(query, Mapping):
        raise invalid(
            "BackgroundSendEmail needs the parameter 'Query' (a QueryBase)",
            hint="send a QueryExpression or FetchExpression on email",
        )
    parsed = parse_query(query)
    if parsed.entity_name != "email":
        raise invalid(
            f"BackgroundSendEmail queries e-mails, not {parsed.entity_name!r}", hint="EntityName: email"
        )
    top = min(parsed.top or MAX_PAGE, MAX_PAGE)
    prefer = Prefer.parse(request.headers.get("Prefer"))
    # The rows are read in the transaction that selected (and claimed) them, so the answer shows them as
    # they were handed out, never as another caller changed them a moment later.
    with crm.writing() as conn:
        crm.authorize(conn, request.principal)
        if claims:
            claimed = outgoing.claim(conn, crm.now(), parsed.node, top)
        else:
            claimed = outgoing.pending(conn, parsed.node, top)
        entities = [
            row_json(conn, BY_NAME["emails"], rows.require(conn, email, i), select=None, prefer=prefer)
            for i in claimed
        ]
    has_attachments = [int(str(e.get("attachmentcount") or 0)) > 0 for e in entities]
    return _complex(
        request,
        "BackgroundSendEmailResponse",
        {"EntityCollection": entities, "HasAttachments": has_attachments},
    )


def send_email(crm: EmbeddedCrm, request: Request, email_id: str) -> Reply:
    """POST emails(<id>)/Microsoft.Dynamics.CRM.SendEmail {IssueSend, TrackingToken}."""
    params = request.json()
    issue_send = _required(params, "IssueSend", "SendEmail")
    if not isinstance(issue_send, bool):
        raise invalid("SendEmail: IssueSend must be true or false", hint="send a JSON boolean")
    token = params.get("TrackingToken")
    result = crm.send_email(
        request.principal, email_id, issue_send=issue_send, tracking_token=str(token) if token else None
    )
    return _complex(request, "SendEmailResponse", {"Subject": result.subject})


def tracking_token(crm: EmbeddedCrm, request: Request) -> Reply:
    """POST GetTrackingTokenEmail {Subject}."""
    subject = str(request.json().get("Subject") or "")
    token = crm.get_tracking_token_email(request.principal, subject)
    return _complex(request, "GetTrackingTokenEmailResponse", {"TrackingToken": token})


def who_am_i(crm: EmbeddedCrm, request: Request, _params: Mapping[str, Any]) -> Reply:
    """GET WhoAmI()."""
    identity = crm.who_am_i(request.principal)
    return _complex(
        request,
        "WhoAmIResponse",
        {
            "BusinessUnitId": identity.business_unit_id,
            "UserId": identity.user_id,
            "OrganizationId": identity.organization_id,
        },
    )


UNBOUND_FUNCTIONS: dict[str, Callable[[EmbeddedCrm, Request, Mapping[str, Any]], Reply]] = {
    "CheckIncomingEmail": check_incoming,
    "WhoAmI": who_am_i,
}
UNBOUND_ACTIONS: dict[str, Callable[[EmbeddedCrm, Request], Reply]] = {
    "BackgroundSendEmail": background_send,
    "GetTrackingTokenEmail": tracking_token,
}

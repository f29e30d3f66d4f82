"""Route one authenticated Web API request to the resource or message it names, and map errors to HTTP.

CRM errors become the JSON error body Dynamics sends, ``{"error": {"code": "0x…", "message": …}}``,
with the status Dynamics uses for that code: 404 for a missing record or segment, 403 for a rejected
caller, 412 for a version mismatch, 503 (with Retry-After) when the database is busy, 400 otherwise.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from router.crm.codes import ErrorCode
from router.crm.embedded.crm import EmbeddedCrm
from router.crm.embedded.rows import invalid
from router.crm.facade import operations, resources
from router.crm.facade.batch import serve_batch
from router.crm.facade.entities import BY_NAME, ENTITY_SETS
from router.crm.facade.impersonation import acting
from router.crm.facade.metadata import metadata_document
from router.crm.facade.routing import (
    NAMESPACE,
    Reply,
    Request,
    function_arguments,
    method_not_allowed,
    not_found,
    parse_key,
    parse_segment,
)
from router.errors import CrmConcurrencyError, CrmError, CrmRecordNotFoundError, CrmTransientError

_STATUS_BY_CODE: dict[str, int] = {
    ErrorCode.RECORD_NOT_FOUND: 404,
    ErrorCode.SEGMENT_NOT_FOUND: 404,
    ErrorCode.PRIVILEGE_DENIED: 403,
    ErrorCode.METHOD_NOT_ALLOWED: 405,
    ErrorCode.CONCURRENCY_MISMATCH: 412,
    ErrorCode.DUPLICATE_RECORD: 412,
    ErrorCode.REQUEST_TOO_LARGE: 413,
}


def error_reply(exc: CrmError) -> Reply:
    """The HTTP reply for a CRM error raised while serving a request."""
    if isinstance(exc, CrmConcurrencyError):
        code, status = ErrorCode.CONCURRENCY_MISMATCH.value, 412
    elif isinstance(exc, CrmRecordNotFoundError):
        code, status = ErrorCode.RECORD_NOT_FOUND.value, 404
    elif isinstance(exc, CrmTransientError):
        code, status = ErrorCode.UNEXPECTED.value, 503
    else:
        code = exc.code or ErrorCode.INVALID_ARGUMENT.value
        status = _STATUS_BY_CODE.get(code, 400)
    headers = {"Retry-After": "1"} if status == 503 else {}
    return Reply(status, {"error": {"code": code, "message": exc.message}}, headers)


@dataclass(frozen=True)
class Behaviour:
    """Choices where Dynamics' behaviour is undocumented, so the facade can emulate either answer."""

    #: Whether BackgroundSendEmail moves the e-mails it returns to Sending itself.
    background_send_claims: bool = True


#: What Dynamics is believed to do (the reference notes, §3.7 of the router notes, leave it open).
DEFAULT_BEHAVIOUR = Behaviour()


def dispatch(crm: EmbeddedCrm, request: Request, behaviour: Behaviour = DEFAULT_BEHAVIOUR,
             act_on_behalf: Collection[str] = ()) -> Reply:
    """Serve ``request`` for an enabled CRM user; CRM errors are returned as error replies, never raised.

    ``act_on_behalf`` names the principals that may send ``MSCRMCallerID`` (``impersonation``).
    """
    try:
        with crm.reading() as conn:
            crm.authorize(conn, request.principal)
        served = acting(crm, request, act_on_behalf)
        if served is not request:
            with crm.reading() as conn:
                crm.authorize(conn, served.principal)  # the user acted for must be enabled too
        return _route(crm, served, behaviour, act_on_behalf)
    except CrmError as exc:
        return error_reply(exc)


def _route(crm: EmbeddedCrm, request: Request, behaviour: Behaviour, act_on_behalf: Collection[str]) -> Reply:
    if not request.segments or request.segments == ("",):
        return _service_document(request)
    first = parse_segment(request.segments[0])
    if first.name == "$metadata":
        return Reply(200, raw=metadata_document(), content_type="application/xml")
    if first.name == "$batch" and len(request.segments) == 1:
        if request.method != "POST":
            raise method_not_allowed(request.method, first.name)
        return serve_batch(request, lambda inner: dispatch(crm, inner, behaviour, act_on_behalf))
    if first.name in operations.UNBOUND_FUNCTIONS and len(request.segments) == 1:
        if request.method != "GET":
            raise not_found(request.segments[0])
        params = function_arguments(first.args or "", request.query)
        return operations.UNBOUND_FUNCTIONS[first.name](crm, request, params)
    if first.name in operations.UNBOUND_ACTIONS and len(request.segments) == 1:
        if request.method != "POST":
            raise method_not_allowed(request.method, first.name)
        if first.name == "BackgroundSendEmail":
            return operations.background_send(crm, request, claims=behaviour.background_send_claims)
        return operations.UNBOUND_ACTIONS[first.name](crm, request)
    entity_set = BY_NAME.get(first.name)
    if entity_set is None:
        raise not_found(request.segments[0])
    key = parse_key(first.args, request.segments[0]) if first.args is not None else None
    rest = request.segments[1:]
    if not rest:
        return _entity_or_set(crm, request, entity_set.name, key)
    return _below(crm, request, entity_set.name, key, rest)


def _entity_or_set(crm: EmbeddedCrm, request: Request, name: str, key: str | None) -> Reply:
    entity_set = BY_NAME[name]
    handlers = {
        (False, "GET"): lambda: resources.list_set(crm, request, entity_set),
        (False, "POST"): lambda: resources.create(crm, request, entity_set),
        (True, "GET"): lambda: resources.get_entity(crm, request, entity_set, key or ""),
        (True, "PATCH"): lambda: resources.update(crm, request, entity_set, key or ""),
        (True, "DELETE"): lambda: resources.delete(crm, request, entity_set, key or ""),
    }
    handler = handlers.get((key is not None, request.method))
    if handler is None:
        raise method_not_allowed(request.method, request.segments[0])
    return handler()


def _below(crm: EmbeddedCrm, request: Request, name: str, key: str | None, rest: tuple[str, ...]) -> Reply:
    entity_set = BY_NAME[name]
    second = rest[0]
    if name == "emails" and second in ("DeliverIncomingEmail", "SendEmail"):
        raise invalid(
            "Request message has unresolved parameters",
            hint=f"call bound operations with their namespace: {NAMESPACE}{second}",
        )
    if name == "emails" and key is None and second == f"{NAMESPACE}DeliverIncomingEmail" and len(rest) == 1:
        return _post_only(request, second) or operations.deliver_incoming(crm, request)
    if name == "emails" and key is not None and second == f"{NAMESPACE}SendEmail" and len(rest) == 1:
        return _post_only(request, second) or operations.send_email(crm, request, key)
    if key is not None and second in entity_set.collections and len(rest) == 1 and request.method == "GET":
        return resources.get_navigation(crm, request, entity_set, key, second)
    if name == "activitymimeattachments" and key is not None and rest == ("body", "$value"):
        return resources.attachment_body(crm, key)
    raise not_found("/".join(rest))


def _post_only(request: Request, name: str) -> Reply | None:
    if request.method != "POST":
        raise method_not_allowed(request.method, name)
    return None


def _service_document(request: Request) -> Reply:
    value = [{"name": s.name, "kind": "EntitySet", "url": s.name} for s in ENTITY_SETS]
    return Reply(200, {"@odata.context": f"{request.base_url}$metadata", "value": value})

"""Graph answers -> the one error tree: transient or permanent, with Graph's code and Retry-After kept.

Graph reports ``{"error": {"code", "message"}}``; the code decides the class, the HTTP status decides
when the code is unknown. 429, 503 and 504 are transient with ``back_off`` from Retry-After; a 410 on
a delta link is not an error but a reset (the caller turns it into a value before it gets here).
"""

from __future__ import annotations

import json
from collections.abc import Mapping

import requests

from router.errors import (
    AccessDeniedError,
    AuthenticationError,
    ItemNotFoundError,
    MailboxNotFoundError,
    MessageRejectedError,
    PermanentTransportError,
    SendAsDeniedError,
    TransientTransportError,
    TransportError,
)

_BY_CODE: dict[str, tuple[type[TransportError], str]] = {
    "InvalidAuthenticationToken": (
        AuthenticationError,
        "check the app registration's client id, secret or certificate and tenant in the profile",
    ),
    "ErrorAccessDenied": (
        AccessDeniedError,
        "grant the app Mail.ReadWrite and Mail.Send (application) with admin consent, and include the "
        "mailbox in its application access policy (New-ApplicationAccessPolicy)",
    ),
    "ErrorSendAsDenied": (
        SendAsDeniedError,
        "grant the service mailbox Send As (or Send On Behalf) on the sending user, or send from the "
        "user's own mailbox",
    ),
    "ErrorInvalidUser": (
        MailboxNotFoundError,
        "check the mailbox address; it must be an Exchange Online mailbox",
    ),
    "MailboxNotEnabledForRESTAPI": (MailboxNotFoundError, "the mailbox must be hosted in Exchange Online"),
    "ErrorItemNotFound": (
        ItemNotFoundError,
        "the message was moved or deleted by someone else; nothing to do",
    ),
    "ErrorMessageSizeExceeded": (MessageRejectedError, "the message is larger than the mailbox allows"),
    "ErrorMimeContentInvalid": (MessageRejectedError, "the rendered MIME was refused; see the message"),
    "ErrorMimeContentInvalidBase64String": (MessageRejectedError, "the MIME was not sent as base64"),
    "ErrorInvalidRecipients": (MessageRejectedError, "the message has no valid recipient"),
}
_TRANSIENT_STATUS = {429, 500, 502, 503, 504}
BUSY_HINT = "Graph is throttling or busy: the router waits as Retry-After says and tries again"


def retry_after(headers: Mapping[str, str], default: float = 1.0) -> float:
    """Seconds Retry-After asks for (delta-seconds form; Graph does not send dates)."""
    value = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    try:
        return max(0.0, float(value)) if value is not None else default
    except ValueError:
        return default


def error_code(body: object, status: int) -> tuple[str, str]:
    """Graph's (code, message) of an error answer's JSON body; the HTTP status when it is not Graph's."""
    try:
        err = (json.loads(body) if isinstance(body, (bytes, str)) else body)["error"]  # type: ignore[index]
        return str(err["code"]), str(err.get("message", ""))[:500]
    except (ValueError, KeyError, TypeError):
        return str(status), ""


def translate(
    response: requests.Response, *, mailbox: str | None = None, item_id: str | None = None
) -> TransportError:
    """The router error for a failed Graph answer (the caller raises it)."""
    method = response.request.method if response.request is not None else None
    return from_answer(
        response.status_code,
        response.headers,
        response.content,
        method=method,
        mailbox=mailbox,
        item_id=item_id,
    )


def from_answer(
    status: int,
    headers: Mapping[str, str],
    body: object,
    *,
    method: str | None = None,
    mailbox: str | None = None,
    item_id: str | None = None,
) -> TransportError:
    """The router error for a failed answer given by its parts (a response, or a ``$batch`` step)."""
    code, message = error_code(body, status)
    text = f"Graph {method or 'request'} failed: {code}" + (f": {message}" if message else "")
    if status in _TRANSIENT_STATUS:
        return TransientTransportError(
            text, hint=BUSY_HINT, mailbox=mailbox, item_id=item_id, back_off=retry_after(headers), code=code
        )
    cls, hint = _BY_CODE.get(code, (_by_status(status), ""))
    return cls(text, hint=hint, mailbox=mailbox, item_id=item_id, code=code)


def _by_status(status: int) -> type[TransportError]:
    if status == 401:
        return AuthenticationError
    if status == 403:
        return AccessDeniedError
    if status == 404:
        return ItemNotFoundError
    if status == 413:
        return MessageRejectedError
    return PermanentTransportError


def connection_failed(exc: requests.RequestException, *, mailbox: str | None = None) -> TransportError:
    """A request that got no answer (refused, reset, timed out, bad TLS) is transient."""
    return TransientTransportError(
        f"Graph request failed: {type(exc).__name__}",
        hint="check the network path to Microsoft Graph; the router retries",
        mailbox=mailbox,
        back_off=5.0,
        code=type(exc).__name__,
    )

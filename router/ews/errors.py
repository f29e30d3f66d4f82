"""exchangelib, requests and OAuth exceptions mapped to the router's error tree, by table.

``translate(exc)`` returns the router error for a foreign exception; ``ews_errors()`` is the context
manager that wraps a block of exchangelib calls (``raise OurError(...) from exc``). exchangelib names
its exceptions after EWS response codes, so the main table is keyed by those names: a code is looked
up along the exception's class hierarchy, and the first hit decides. Every router error carries the
code (``err.code``), so a caller that must react to one code (ErrorInvalidSyncStateData: reset the
sync state) tests the code, not a foreign class.

Unknown EWS codes are transient: the service retries them with back-off and escalates to a
permanent failure after repeated attempts, which loses nothing; calling an unknown error permanent
would stop a mailbox for what may be a passing server fault.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import requests
from exchangelib.errors import EWSError
from oauthlib.oauth2.rfc6749 import errors as oauth_errors  # type: ignore[import-untyped]

from router.bounded_http import ResponseTooLarge, is_tls_version_failure
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
from router.ews.retry import HttpStatusError


@dataclass(frozen=True)
class Rule:
    """What an exception becomes: the router error class, the admin's hint, a default back-off."""

    error: type[TransportError]
    hint: str
    back_off: float | None = None


BUSY = "Exchange asked the router to slow down; the mailbox is retried after the back-off"
UNAVAILABLE = ("Exchange or the network is not available right now; the router retries with back-off "
               "and raises an alert if it goes on")
SYNC = "the saved position is no longer valid; the router starts that synchronisation again"
AUTH = ("check the user name and password (or the OAuth client id, secret and token endpoint) of the "
        "profile, then run `email-router test-access`")
ACCESS = ("give the account rights on this mailbox (FullAccess for delegate access, the "
          "ApplicationImpersonation role for impersonation), then run `email-router test-access`")
MAILBOX = "check the mailbox address (it must be the primary SMTP address) and that the mailbox exists"
SEND_AS = ("give the account Send As or Send On Behalf on this mailbox, or change the profile's access "
           "type; `email-router test-access` shows which right it holds")
MESSAGE = "the message itself was refused; the reason is on the email or in the quarantine"
ITEM = "the item was deleted or moved on the server by someone else; nothing needs to be done"
ENDPOINT = "check the EWS URL (or the Autodiscover settings) of the profile"
VERSION = "the server speaks no EWS version the router knows; check the EWS URL and the server version hint"
FOLDER = "a folder the profile names does not exist in this mailbox; create it or fix the profile"
QUOTA = "the mailbox is over its size quota: free space in it or raise the quota"
TLS = ("the server's TLS certificate was not accepted: set the profile's CA bundle to the CA that "
       "issued it, or fix the certificate")
TLS_VERSION = ("the router and the server found no TLS version in common (the router speaks TLS 1.2 and "
               "later), or the URL's port does not speak TLS at all (http:// on an https:// URL): check the "
               "server's TLS protocol settings and the URL's scheme and port; the certificate is fine")
SUBMISSION = "the mailbox reached Exchange's sending limit; sending resumes after the back-off"

_T, _A, _AD, _MB = TransientTransportError, AuthenticationError, AccessDeniedError, MailboxNotFoundError
_P, _MSG, _ITEM = PermanentTransportError, MessageRejectedError, ItemNotFoundError


def _rules(error: type[TransportError], hint: str, *codes: str,
           back_off: float | None = None) -> dict[str, Rule]:
    return dict.fromkeys(codes, Rule(error, hint, back_off))


EWS_CODES: Mapping[str, Rule] = {
    **_rules(_T, BUSY, "ErrorServerBusy", "ErrorTooManyObjectsOpened", "ErrorExceededConnectionCount",
             "RateLimitError"),
    **_rules(_T, UNAVAILABLE, "ErrorTimeoutExpired", "ErrorInternalServerTransientError",
             "ErrorInternalServerError", "ErrorMailboxStoreUnavailable", "ErrorMailboxMoveInProgress",
             "ErrorMailboxFailover", "ErrorConnectionFailed", "ErrorConnectionFailedTransientError",
             "ErrorADUnavailable", "ErrorADOperation", "ErrorBatchProcessingStopped",
             "ErrorNoRespondingCASInDestinationSite", "ErrorNoApplicableProxyCASServersAvailable",
             "ErrorProxyCallFailed", "ErrorProxyRequestProcessingFailed",
             "ErrorProxyServiceDiscoveryFailed", "ErrorProxyTokenExpired", "ErrorInsufficientResources",
             "ErrorNotEnoughMemory", "ErrorClientDisconnected", "ErrorRequestAborted",
             "ErrorServiceDiscoveryFailed", "ErrorWin32InteropError", "ErrorIrresolvableConflict",
             "ErrorStaleObject", "ErrorInvalidChangeKey", "ErrorMoveCopyFailed",
             "ErrorExceededSubscriptionCount", "ErrorAutoDiscoverFailed", "ErrorWebRequestInInvalidState",
             "CASError", "SOAPError", "MalformedResponseError", "AutoDiscoverFailed", "AutoDiscoverError",
             "TransportError", "ResponseMessageError", "EWSError"),
    **_rules(_T, SYNC, "ErrorInvalidSyncStateData", "ErrorInvalidWatermark", "ErrorExpiredSubscription",
             "ErrorSubscriptionNotFound", "ErrorSubscriptionUnsubsribed",
             "ErrorNewEventStreamConnectionOpened", "ErrorMissedNotificationEvents",
             "ErrorReadEventsFailed", "ErrorInvalidSubscription"),
    **_rules(_T, SUBMISSION, "ErrorSubmissionQuotaExceeded", back_off=3600.0),
    **_rules(_A, AUTH, "UnauthorizedError", "ErrorAccountDisabled", "ErrorPasswordExpired",
             "ErrorPasswordChangeRequired", "ErrorInvalidCrossForestCredentials",
             "ErrorLogonAsNetworkServiceFailed", "ErrorCallerIsInvalidADAccount"),
    **_rules(_AD, ACCESS, "ErrorAccessDenied", "ErrorImpersonateUserDenied", "ErrorImpersonationDenied",
             "ErrorImpersonationFailed", "ErrorInvalidExchangeImpersonationHeaderData", "ErrorNotDelegate",
             "ErrorMailboxLogonFailed", "ErrorUserNotAllowedByPolicy", "ErrorCreateItemAccessDenied",
             "ErrorCreateSubfolderAccessDenied", "ErrorSubscriptionAccessDenied", "ErrorInvalidAccessLevel",
             "ErrorRecoverableItemsAccessDenied", "ErrorProxyRequestNotAllowed", "ErrorInvalidLicense"),
    **_rules(_MB, MAILBOX, "ErrorNonExistentMailbox", "ErrorInvalidMailbox", "ErrorNonPrimarySmtpAddress",
             "ErrorMissingEmailAddress", "ErrorMailboxConfiguration"),
    **_rules(SendAsDeniedError, SEND_AS, "ErrorSendAsDenied"),
    **_rules(_P, QUOTA, "ErrorQuotaExceeded", "ErrorRulesOverQuota"),
    **_rules(_P, FOLDER, "ErrorFolderNotFound", "ErrorSyncFolderNotFound", "ErrorToFolderNotFound",
             "ErrorSavedItemFolderNotFound", "ErrorParentFolderNotFound"),
    **_rules(_P, VERSION, "ErrorInvalidServerVersion", "ErrorIncorrectSchemaVersion",
             "ErrorInvalidSchemaVersionForMailboxVersion", "ErrorWrongServerVersion",
             "ErrorWrongServerVersionDelegate"),
    **_rules(_P, ENDPOINT, "RedirectError", "RelativeRedirect", "AutoDiscoverCircularRedirect"),
    **_rules(_MSG, MESSAGE, "ErrorInvalidRecipients", "ErrorMissingRecipients", "ErrorMessageSizeExceeded",
             "ErrorAttachmentSizeLimitExceeded", "ErrorMimeContentConversionFailed",
             "ErrorMimeContentInvalid", "ErrorMimeContentInvalidBase64String",
             "ErrorContentConversionFailed", "ErrorCorruptData", "ErrorItemCorrupt",
             "ErrorInvalidSmtpAddress", "ErrorMailRecipientNotFound", "ErrorVirusDetected",
             "ErrorVirusMessageDeleted", "ErrorSchemaValidation", "ErrorItemSave",
             "ErrorItemSavePropertyError", "ErrorInvalidPropertyRequest", "ErrorInvalidIdMalformed",
             "ErrorInvalidRoutingType", "ErrorUnsupportedMimeConversion", "ErrorRequestStreamTooBig",
             "ErrorDataSizeLimitExceeded", "ErrorInvalidInternetHeaderChildNodes", "ErrorValueOutOfRange",
             "ErrorInvalidValueForProperty", "ErrorPropertyValidationFailure",
             "ErrorInvalidItemForOperationSendItem", "ErrorInvalidItemForOperationCreateItem"),
    **_rules(_ITEM, ITEM, "ErrorItemNotFound", "ErrorInvalidId"),
}
"""Rules keyed by exchangelib exception class name (the EWS response code, where there is one)."""

TOO_LARGE = ("the server's answer was larger than the router accepts and was discarded; if such answers are "
             "legitimate, raise max_response_mb / max_message_response_mb in [settings]")
FOREIGN: tuple[tuple[type[BaseException], Rule, str], ...] = (
    (ResponseTooLarge, Rule(_T, TOO_LARGE), "ResponseTooLarge"),
    (requests.exceptions.SSLError, Rule(_P, TLS), "TlsError"),
    (requests.exceptions.ProxyError, Rule(_T, UNAVAILABLE), "ProxyError"),
    (requests.exceptions.Timeout, Rule(_T, UNAVAILABLE), "Timeout"),
    (requests.exceptions.ConnectionError, Rule(_T, UNAVAILABLE), "ConnectionError"),
    (requests.exceptions.InvalidURL, Rule(_P, ENDPOINT), "InvalidURL"),
    (requests.exceptions.MissingSchema, Rule(_P, ENDPOINT), "InvalidURL"),
    (requests.exceptions.InvalidSchema, Rule(_P, ENDPOINT), "InvalidURL"),
    (requests.exceptions.RequestException, Rule(_T, UNAVAILABLE), "RequestError"),
    (oauth_errors.TokenExpiredError, Rule(_T, UNAVAILABLE), "TokenExpired"),
    (oauth_errors.ServerError, Rule(_T, UNAVAILABLE), "OAuthServerError"),
    (oauth_errors.TemporarilyUnavailableError, Rule(_T, UNAVAILABLE), "OAuthTemporarilyUnavailable"),
    (oauth_errors.MissingTokenError, Rule(_T, UNAVAILABLE), "OAuthMissingToken"),
    (oauth_errors.InsecureTransportError, Rule(_P, "the OAuth token endpoint must be an https:// URL"),
     "OAuthInsecureTransport"),
    (oauth_errors.OAuth2Error, Rule(_A, AUTH), "OAuthError"),
    (builtins.TimeoutError, Rule(_T, UNAVAILABLE), "Timeout"),
    (builtins.ConnectionError, Rule(_T, UNAVAILABLE), "ConnectionError"),
)
"""Rules for exceptions that do not come from exchangelib, checked in order (subclasses first)."""

TRANSPORT_EXCEPTIONS: tuple[type[BaseException], ...] = (
    EWSError, requests.exceptions.RequestException, oauth_errors.OAuth2Error, builtins.TimeoutError,
    builtins.ConnectionError)
"""What ``ews_errors`` catches: every exception family that talking to Exchange can raise."""


def translate(exc: BaseException, *, mailbox: str | None = None,
              item_id: str | None = None) -> TransportError:
    """Return the router error for a foreign exception (raise it ``from exc``)."""
    code, rule = _classify(exc)
    back_off = _back_off(exc, rule)
    detail = str(exc).strip() or type(exc).__name__
    message = detail if detail.startswith(code) else f"{code}: {detail}"
    return rule.error(message, back_off=back_off, code=code, hint=rule.hint, mailbox=mailbox, item_id=item_id)


@contextmanager
def ews_errors(*, mailbox: str | None = None, item_id: str | None = None) -> Iterator[None]:
    """Run a block of EWS calls, turning foreign exceptions into router errors for ``mailbox``."""
    try:
        yield
    except TRANSPORT_EXCEPTIONS as exc:
        raise translate(exc, mailbox=mailbox, item_id=item_id) from exc


def _classify(exc: BaseException) -> tuple[str, Rule]:
    tls = _tls_cause(exc)
    if tls is not None:
        return "TlsError", Rule(_P, tls_hint(tls))
    if isinstance(exc, HttpStatusError):
        return f"HTTP{exc.status_code}", _http_rule(exc.status_code)
    if isinstance(exc, requests.exceptions.HTTPError) and exc.response is not None:
        return f"HTTP{exc.response.status_code}", _http_rule(exc.response.status_code)
    if isinstance(exc, EWSError):
        # The code is the exception's own name even when only a base class has a rule: an unknown
        # EWS response code must still be named in the error the admin sees.
        for cls in type(exc).__mro__:
            if cls.__name__ in EWS_CODES:
                return type(exc).__name__, EWS_CODES[cls.__name__]
    for kind, rule, code in FOREIGN:
        if isinstance(exc, kind):
            return code, rule
    return type(exc).__name__, Rule(_T, UNAVAILABLE)


def _http_rule(status: int) -> Rule:
    if status == 401:
        return Rule(_A, AUTH)
    if status == 403:
        return Rule(_AD, ACCESS)
    if status in (429, 503):
        return Rule(_T, BUSY)
    if status >= 500:
        return Rule(_T, UNAVAILABLE)
    return Rule(_P, ENDPOINT)


def tls_hint(exc: BaseException) -> str:
    """What to do about a TLS failure: the protocol version and the certificate need different fixes."""
    return TLS_VERSION if is_tls_version_failure(exc) else TLS


def _tls_cause(exc: BaseException) -> BaseException | None:
    """The TLS failure ``exc`` is, or was raised while handling (exchangelib re-raises those as a plain
    TransportError inside the ``except`` that caught them); None when there is none."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, requests.exceptions.SSLError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def _back_off(exc: BaseException, rule: Rule) -> float | None:
    value: Any = getattr(exc, "back_off", None) or getattr(exc, "retry_after", None)
    if isinstance(value, int | float) and value > 0:
        return float(value)
    return rule.back_off

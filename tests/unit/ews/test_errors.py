"""The error table: each foreign exception becomes the right router error with code, hint and back-off."""

from __future__ import annotations

import exchangelib.errors as ee
import pytest
import requests
from oauthlib.oauth2.rfc6749 import errors as oauth_errors  # type: ignore[import-untyped]

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
from router.ews import HttpStatusError, ews_errors, translate
from router.ews.errors import EWS_CODES

TT, PT = TransientTransportError, PermanentTransportError

CASES = [
    (ee.ErrorServerBusy("The server cannot service this request right now.", back_off=297.749), TT,
     "ErrorServerBusy", 297.749),
    (ee.ErrorTimeoutExpired("Reraised from ConnectionError(...)"), TT, "ErrorTimeoutExpired", None),
    (ee.ErrorMailboxStoreUnavailable("store down"), TT, "ErrorMailboxStoreUnavailable", None),
    (ee.ErrorInternalServerTransientError("Caused by HTTP 503 response"), TT,
     "ErrorInternalServerTransientError", None),
    (ee.ErrorInvalidSyncStateData("bad state"), TT, "ErrorInvalidSyncStateData", None),
    (ee.ErrorSubmissionQuotaExceeded("too many"), TT, "ErrorSubmissionQuotaExceeded", 3600.0),
    (ee.ErrorCalendarDurationIsTooLong("unheard of"), TT, "ErrorCalendarDurationIsTooLong", None),
    (ee.CASError("ProxyError", None), TT, "CASError", None),
    (ee.UnauthorizedError("Invalid credentials for https://x/EWS/Exchange.asmx"), AuthenticationError,
     "UnauthorizedError", None),
    (ee.ErrorAccessDenied("Access is denied."), AccessDeniedError, "ErrorAccessDenied", None),
    (ee.ErrorImpersonateUserDenied("no impersonation"), AccessDeniedError, "ErrorImpersonateUserDenied",
     None),
    (ee.ErrorNonExistentMailbox("The SMTP address has no mailbox associated with it."),
     MailboxNotFoundError, "ErrorNonExistentMailbox", None),
    (ee.ErrorSendAsDenied("The account used to submit this request does not have the right to send mail"),
     SendAsDeniedError, "ErrorSendAsDenied", None),
    (ee.ErrorQuotaExceeded("mailbox full"), PT, "ErrorQuotaExceeded", None),
    (ee.ErrorFolderNotFound("no such folder"), PT, "ErrorFolderNotFound", None),
    (ee.RedirectError("https://elsewhere.example.com/EWS/Exchange.asmx"), PT, "RedirectError", None),
    (ee.ErrorInvalidRecipients("At least one recipient isn't valid."), MessageRejectedError,
     "ErrorInvalidRecipients", None),
    (ee.ErrorMessageSizeExceeded("too big"), MessageRejectedError, "ErrorMessageSizeExceeded", None),
    (ee.ErrorItemNotFound("The specified object was not found in the store."), ItemNotFoundError,
     "ErrorItemNotFound", None),
    (HttpStatusError(404, "https://x/EWS/Exchange.asmx", None), PT, "HTTP404", None),
    (HttpStatusError(401, "https://x/", None), AuthenticationError, "HTTP401", None),
    (HttpStatusError(403, "https://x/", None), AccessDeniedError, "HTTP403", None),
    (HttpStatusError(502, "https://x/", None), TT, "HTTP502", None),
    (HttpStatusError(503, "https://x/", 120), TT, "HTTP503", 120.0),
    (requests.exceptions.ConnectTimeout("timed out"), TT, "Timeout", None),
    (requests.exceptions.ConnectionError("refused"), TT, "ConnectionError", None),
    (requests.exceptions.SSLError("certificate verify failed"), PT, "TlsError", None),
    (requests.exceptions.MissingSchema("no scheme"), PT, "InvalidURL", None),
    (oauth_errors.InvalidClientError(description="bad secret"), AuthenticationError, "OAuthError", None),
    (oauth_errors.ServerError(description="try later"), TT, "OAuthServerError", None),
    (oauth_errors.MissingTokenError(), TT, "OAuthMissingToken", None),
    (TimeoutError("read timed out"), TT, "Timeout", None),
]


@pytest.mark.parametrize(("exc", "expected", "code", "back_off"), CASES,
                         ids=[f"{type(c[0]).__name__}-{c[2]}" for c in CASES])
def test_each_exception_maps_to_its_router_error(
        exc: BaseException, expected: type[TransportError], code: str, back_off: float | None) -> None:
    error = translate(exc, mailbox="user@example.com", item_id="AAMk1")
    assert type(error) is expected
    assert (error.code, error.back_off) == (code, back_off)
    assert (error.mailbox, error.item_id) == ("user@example.com", "AAMk1")
    assert error.hint and code in error.message
    assert error.transient is issubclass(expected, TransientTransportError)


def test_item_level_errors_do_not_stop_the_mailbox() -> None:
    assert not translate(ee.ErrorInvalidRecipients("x")).stops_mailbox  # type: ignore[attr-defined]
    assert not translate(ee.ErrorItemNotFound("x")).stops_mailbox  # type: ignore[attr-defined]
    assert translate(ee.ErrorSendAsDenied("x")).stops_mailbox  # type: ignore[attr-defined]
    assert translate(ee.ErrorQuotaExceeded("x")).stops_mailbox  # type: ignore[attr-defined]


def test_a_tls_failure_reraised_by_exchangelib_is_recognised() -> None:
    try:
        try:
            raise requests.exceptions.SSLError("certificate verify failed: unable to get local issuer")
        except requests.exceptions.SSLError as inner:
            raise ee.TransportError(str(inner))  # noqa: B904 - exactly what exchangelib does
    except ee.TransportError as exc:
        error = translate(exc)
    assert isinstance(error, PermanentTransportError) and error.code == "TlsError"
    assert "CA bundle" in error.hint


def test_every_code_in_the_table_is_an_exchangelib_exception() -> None:
    missing = [code for code in EWS_CODES if not isinstance(getattr(ee, code, None), type)]
    assert missing == []


def test_ews_errors_wraps_and_chains() -> None:
    original = ee.ErrorAccessDenied("Access is denied.")
    with pytest.raises(AccessDeniedError) as caught, ews_errors(mailbox="user@example.com"):
        raise original
    assert caught.value.__cause__ is original
    assert "mailbox=user@example.com" in str(caught.value) and "hint:" in str(caught.value)


def test_ews_errors_lets_programming_errors_through() -> None:
    with pytest.raises(KeyError), ews_errors(mailbox="user@example.com"):
        raise KeyError("a bug, not a transport problem")

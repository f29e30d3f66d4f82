"""Web API responses to the router's error tree (reference: dynamics-webapi.md §7).

Transient: 429 and 502/503/504 (with ``back_off`` from Retry-After), an unreachable server. Permanent:
401 (credentials), 403 (the caller lacks rights or is not a CRM user), 400 and 413 (this request will
never succeed), 500 after retries. 404 on a record is ``CrmRecordNotFoundError``; 412 on ``If-Match`` is
``CrmConcurrencyError``.
"""

from __future__ import annotations

from datetime import datetime
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import requests

from router.bounded_http import is_tls_version_failure
from router.crm.codes import ErrorCode
from router.errors import (
    CrmConcurrencyError,
    CrmError,
    CrmPermanentError,
    CrmRecordNotFoundError,
    CrmTransientError,
)

RETRYABLE = frozenset({429, 500, 502, 503, 504})
TRANSIENT = frozenset({429, 502, 503, 504})


def retry_after(response: requests.Response, now: datetime) -> float | None:
    """Seconds the server asks to wait (Retry-After as seconds or an HTTP date), if it says."""
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        return max((parsedate_to_datetime(value) - now).total_seconds(), 0.0)
    except (TypeError, ValueError):
        return None


def odata_error(response: requests.Response) -> tuple[str, str]:
    """The ``error.code`` and ``error.message`` of a Web API error body (empty when there is none)."""
    try:
        error = response.json().get("error") or {}
        if not isinstance(error, dict):
            return "", str(error)[:300]
    except (ValueError, AttributeError, RecursionError):
        return "", response.text[:300].strip()
    return str(error.get("code") or ""), str(error.get("message") or "")


def error_for(response: requests.Response, method: str, back_off: float | None = None) -> CrmError:
    """The error to raise for an unsuccessful response."""
    status = response.status_code
    code, message = odata_error(response)
    where = f"{method} {urlsplit(response.url).path}"
    text = f"the CRM answered {status} to {where}: {message or response.reason}"
    if status in TRANSIENT:
        return CrmTransientError(
            text, back_off=back_off, code=code or None, hint="the CRM is busy; retry later"
        )
    if status == 401:
        return CrmPermanentError(
            text,
            code=code or None,
            hint="the CRM refused the router's credentials: check the user name and "
            "password, or the OAuth client, token URL and resource",
        )
    if status == 403:
        return CrmPermanentError(
            text,
            code=code or None,
            hint="the router's account is not a CRM user or lacks the e-mail router "
            "privileges; ask a CRM administrator",
        )
    if status == 404 and (code == ErrorCode.RECORD_NOT_FOUND or "Does Not Exist" in message):
        return CrmRecordNotFoundError(text, code=code, hint="the record is gone; skip it")
    if status == 412:
        return CrmConcurrencyError(text, code=code or None, hint="the record changed; re-read it and retry")
    if status == 413:
        return CrmPermanentError(
            text,
            code=code or None,
            hint="the request (a body or an attachment) is larger than the CRM accepts",
        )
    return CrmPermanentError(text, code=code or None, hint="the CRM refused this request; see the message")


def unreachable(base_url: str, exc: requests.RequestException) -> CrmTransientError:
    """The error for a CRM that could not be reached at all."""
    return CrmTransientError(
        f"cannot reach the CRM at {base_url}: {exc.__class__.__name__}: {exc}",
        hint="check the CRM URL, the network and that the CRM is running",
    )


def untrusted(base_url: str, exc: requests.exceptions.SSLError) -> CrmPermanentError:
    """The error for a TLS failure: retrying will not make the certificate trusted."""
    if is_tls_version_failure(exc):
        hint = ("the router and the CRM found no TLS version in common (the router speaks TLS 1.2 and "
                "later), or the URL's port does not speak TLS: check the CRM's TLS settings and the URL; "
                "the certificate is fine")
    else:
        hint = ("the CRM's certificate is not trusted or does not match the host name: give the CA bundle "
                "as the deployment's verify setting, or fix the certificate")
    return CrmPermanentError(f"the TLS connection to the CRM at {base_url} failed: {exc}", hint=hint)

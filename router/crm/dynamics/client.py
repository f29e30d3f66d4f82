"""``WebApiClient``: authenticated OData v4 requests with Dynamics' headers, retries and paging.

Every request carries ``Accept: application/json``, ``OData-MaxVersion``/``OData-Version: 4.0`` and a
``User-Agent`` naming the router. 429 and 5xx answers and dropped connections are retried up to
``max_retries`` times, waiting what ``Retry-After`` asks (capped at ``max_back_off``) or 1, 2, 4 … s; the
wait goes through the injected clock. With OAuth, one 401 renews the token before giving up.

Every answer is read through a ``BoundedAdapter`` (a total deadline per call, a size cap), and parsed
defensively: JSON nested deeper than the parser can follow, or anything but a JSON object, is a
``CrmPermanentError`` for that call, never a crash of the service. ``@odata.nextLink`` is followed only
to the same scheme, host and port as the Web API root (the session's credentials go wherever it
points), never twice to the same link, and for at most ``max_pages`` pages.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import requests
from requests_ntlm import HttpNtlmAuth

from router import __version__
from router.bounded_http import BoundedAdapter, ResponseTooLarge
from router.clock import Clock
from router.crm.dynamics.errors import RETRYABLE, error_for, retry_after, unreachable, untrusted
from router.crm.dynamics.oauth import BearerToken
from router.crm.dynamics.settings import DynamicsSettings, NtlmCredentials
from router.errors import CrmPermanentError, CrmTransientError
from router.http_environment import environment_once

JsonObject = dict[str, Any]
TOO_LARGE_HINT = ("the CRM's answer was larger than the router accepts; if that is legitimate, raise "
                  "max_message_response_mb in [settings]")


class WebApiClient:
    """Calls one organisation's Web API; thread-safe (one requests session per thread)."""

    def __init__(self, settings: DynamicsSettings, clock: Clock) -> None:
        self.settings = settings
        self.clock = clock
        self._local = threading.local()
        self._sessions: list[requests.Session] = []
        self._sessions_lock = threading.Lock()
        creds = settings.credentials
        self._bearer = (
            None
            if isinstance(creds, NtlmCredentials)
            else BearerToken(creds, clock, timeout=settings.timeout, verify=settings.verify)
        )

    def close(self) -> None:
        """Close every session's connections."""
        with self._sessions_lock:
            for session in self._sessions:
                session.close()
            self._sessions.clear()
        if self._bearer is not None:
            self._bearer.close()

    def _session(self) -> requests.Session:
        # NTLM authenticates a connection, so each thread keeps its own session (and connections).
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = environment_once(requests.Session(), self.settings.base_url)
            adapter = BoundedAdapter()
            adapter.max_response_bytes = self.settings.max_response_bytes
            session.mount("https://", adapter)
            session.mount("http://", adapter)
            creds = self.settings.credentials
            if isinstance(creds, NtlmCredentials):
                session.auth = HttpNtlmAuth(creds.username, creds.password.get_secret_value())
            else:
                session.auth = self._bearer
            session.headers.update(self._headers())
            self._local.session = session
            with self._sessions_lock:
                self._sessions.append(session)
        return session

    def _headers(self) -> dict[str, str]:
        headers = {
            "Accept": "application/json",
            "OData-MaxVersion": "4.0",
            "OData-Version": "4.0",
            "User-Agent": f"email-router/{__version__} (CRM e-mail router)",
        }
        if self.settings.impersonate:
            headers["MSCRMCallerID"] = self.settings.impersonate
        return headers

    def url(self, path: str) -> str:
        """An absolute URL for ``path`` relative to the Web API root (absolute URLs pass unchanged)."""
        return path if path.startswith(("http://", "https://")) else self.settings.base_url + path

    def request(
        self,
        method: str,
        path: str,
        *,
        body: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        content: bytes | None = None,
    ) -> requests.Response:
        """Send one request, retrying transient failures; return a 2xx response or raise a CrmError.

        ``body`` is sent as JSON; ``content`` as raw bytes (a ``$batch``, with its own Content-Type).
        """
        url, renewed = self.url(path), False
        attempt = 0
        while True:
            try:
                session = self._session()
                response = session.request(
                    method,
                    url,
                    json=body,
                    data=content,
                    headers=dict(headers or {}),
                    timeout=(self.settings.connect_timeout, self.settings.timeout),
                    # The session's verification: the configured one, or REQUESTS_CA_BUNDLE read once.
                    verify=session.verify if self.settings.verify is True else self.settings.verify,
                    allow_redirects=False,
                )
            except requests.exceptions.SSLError as exc:
                raise untrusted(self.settings.base_url, exc) from exc
            except ResponseTooLarge as exc:
                # The same call would bring the same flood again: the lane backs off instead.
                raise CrmTransientError(str(exc), hint=TOO_LARGE_HINT) from exc
            except requests.RequestException as exc:
                if attempt >= self.settings.max_retries:
                    raise unreachable(self.settings.base_url, exc) from exc
                self._wait(None, attempt)
                attempt += 1
                continue
            if response.ok and 200 <= response.status_code < 300:
                return response
            if response.status_code == 401 and self._bearer is not None and not renewed:
                self._bearer.invalidate()
                renewed = True
                continue
            wait = retry_after(response, self.clock.now())
            if response.status_code in RETRYABLE and attempt < self.settings.max_retries:
                self._wait(wait, attempt)
                attempt += 1
                continue
            if 300 <= response.status_code < 400:
                raise _redirected(response)
            raise error_for(response, method, wait)

    def _wait(self, asked: float | None, attempt: int) -> None:
        delay = asked if asked is not None else float(2**attempt)
        self.clock.sleep(min(delay, self.settings.max_back_off))

    def get(self, path: str, *, headers: Mapping[str, str] | None = None) -> JsonObject:
        """GET ``path`` and return its JSON object."""
        return json_object(self.request("GET", path, headers=headers))

    def post(
        self, path: str, body: Mapping[str, Any], *, headers: Mapping[str, str] | None = None
    ) -> JsonObject:
        """POST a JSON body; return the JSON answer (an empty object for 204)."""
        response = self.request(
            "POST", path, body=body, headers={"Content-Type": "application/json", **(headers or {})}
        )
        return json_object(response) if response.status_code != 204 else {}

    def patch(self, path: str, body: Mapping[str, Any], *, etag: str = "*") -> None:
        """PATCH a row with ``If-Match``: its ETag, or ``*`` so a PATCH never creates a row (no upsert)."""
        self.request("PATCH", path, body=body, headers={"Content-Type": "application/json", "If-Match": etag})

    def get_all(self, path: str, *, annotations: str | None = None) -> list[JsonObject]:
        """GET every row of a query, following ``@odata.nextLink`` unchanged page after page."""
        prefer = f"odata.maxpagesize={self.settings.page_size}"
        if annotations:
            prefer += f',odata.include-annotations="{annotations}"'
        rows: list[JsonObject] = []
        seen: set[str] = set()
        next_path: str | None = path
        while next_path:
            if len(seen) >= self.settings.max_pages:
                raise CrmPermanentError(f"the CRM's answer to {_path_of(path)} goes on past "
                                        f"{self.settings.max_pages} pages; the query was abandoned",
                                        hint="narrow the query, or look for a proxy rewriting next links")
            seen.add(next_path)
            page = self.get(next_path, headers={"Prefer": prefer})
            value = page.get("value") or []
            if not isinstance(value, list):
                raise CrmPermanentError(f"the CRM answered {_path_of(next_path)} with a 'value' that is not "
                                        "a list", hint="check that the URL is the Web API root")
            rows.extend(value)
            next_path = self._next_link(page, seen)
        return rows

    def _next_link(self, page: JsonObject, seen: set[str]) -> str | None:
        """The page's ``@odata.nextLink`` if it is safe to follow (see the module docstring)."""
        link = page.get("@odata.nextLink")
        if link is None:
            return None
        if not isinstance(link, str) or not _same_origin(self.url(link), self.settings.base_url):
            where = urlsplit(link).netloc if isinstance(link, str) else type(link).__name__
            raise CrmPermanentError(
                f"the CRM's @odata.nextLink points at another server ({where!r}), not at "
                f"{urlsplit(self.settings.base_url).netloc}; it was not followed",
                hint="the router sends its credentials only to the configured Web API root; check for a "
                "proxy or a compromised CRM rewriting links")
        if link in seen:
            raise CrmPermanentError(f"the CRM's @odata.nextLink loops back to a page already read "
                                    f"({_path_of(link)})", hint="the CRM or a proxy repeats next links")
        return link


def _same_origin(url: str, base: str) -> bool:
    a, b = urlsplit(url), urlsplit(base)
    default = {"https": 443, "http": 80}
    return (a.scheme == b.scheme and (a.hostname or "").lower() == (b.hostname or "").lower()
            and (a.port or default.get(a.scheme)) == (b.port or default.get(b.scheme)))


def _path_of(link: str) -> str:
    return urlsplit(link).path or link[:200]


def json_object(response: requests.Response) -> JsonObject:
    """The JSON object of a response, or a permanent error explaining what came instead."""
    try:
        value = json.loads(response.content)
    except RecursionError as exc:
        raise CrmPermanentError(
            f"the CRM answered {response.request.method} {_path_of(response.url)} with JSON nested too "
            "deeply to read; the answer was discarded",
            hint="a CRM never nests this deep: look for a proxy or a broken CRM in between") from exc
    except ValueError as exc:
        raise CrmPermanentError(
            f"the CRM answered {response.request.method} {response.url} with "
            f"{response.headers.get('Content-Type', 'no content type')}, not JSON",
            hint="the URL may point at a sign-in page (claims-based authentication needs OAuth) or is not "
            "the Web API root",
        ) from exc
    if not isinstance(value, dict):
        raise CrmPermanentError(
            f"the CRM answered {response.url} with JSON that is not an object",
            hint="check that the URL is the Web API root",
        )
    return value


def _redirected(response: requests.Response) -> CrmPermanentError:
    return CrmPermanentError(
        f"the CRM redirected {response.request.method} {response.url} to {response.headers.get('Location')}",
        hint="the organisation probably uses claims-based authentication (AD FS): configure OAuth",
    )

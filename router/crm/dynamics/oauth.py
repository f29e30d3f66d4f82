"""OAuth bearer tokens for the Web API: fetched from the token endpoint, cached until just before expiry."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import requests
from requests.auth import AuthBase

from router.bounded_http import BoundedAdapter
from router.clock import Clock
from router.crm.dynamics.settings import OAuthCredentials
from router.errors import CrmPermanentError, CrmTransientError

#: A token is renewed this long before it expires, so no request goes out with one about to lapse.
RENEW_BEFORE = timedelta(seconds=60)


class BearerToken(AuthBase):
    """A requests auth that adds ``Authorization: Bearer …``, fetching and renewing the token as needed."""

    def __init__(
        self, credentials: OAuthCredentials, clock: Clock, *, timeout: float, verify: bool | str
    ) -> None:
        self.credentials = credentials
        self.clock = clock
        self.timeout = timeout
        self.verify = verify
        self._session = requests.Session()
        # A token answer is tiny: a total deadline and a 1 MiB cap bound a hostile identity provider.
        adapter = BoundedAdapter()
        adapter.max_response_bytes = 1024 * 1024
        self._session.mount("https://", adapter)
        self._session.mount("http://", adapter)
        self._token: str | None = None
        self._expires = datetime.min.replace(tzinfo=clock.now().tzinfo)
        self._lock = threading.Lock()

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self.token()}"
        return request

    def close(self) -> None:
        """Close the token endpoint's connections."""
        self._session.close()

    def invalidate(self) -> None:
        """Forget the cached token (the CRM refused it); the next request fetches a new one."""
        with self._lock:
            self._token = None

    def token(self) -> str:
        """The current access token, fetched when missing or about to expire."""
        with self._lock:
            if self._token is None or self.clock.now() >= self._expires - RENEW_BEFORE:
                self._token, lifetime = self._fetch()
                self._expires = self.clock.now() + timedelta(seconds=lifetime)
            return self._token

    def _form(self) -> dict[str, str]:
        creds = self.credentials
        form = {"client_id": creds.client_id, "client_secret": creds.client_secret.get_secret_value()}
        if creds.username:
            form.update(
                grant_type="password",
                username=creds.username,
                password=creds.password.get_secret_value() if creds.password else "",
            )
        else:
            form["grant_type"] = "client_credentials"
        if creds.resource:
            form["resource"] = creds.resource
        if creds.scope:
            form["scope"] = creds.scope
        return form

    def _fetch(self) -> tuple[str, float]:
        url = self.credentials.token_url
        try:
            response = self._session.post(url, data=self._form(), timeout=self.timeout, verify=self.verify)
        except requests.RequestException as exc:
            raise CrmTransientError(
                f"cannot reach the OAuth token endpoint {url}: {exc.__class__.__name__}",
                hint="check the token URL and the network",
            ) from exc
        if response.status_code >= 500:
            raise CrmTransientError(
                f"the OAuth token endpoint {url} answered {response.status_code}",
                hint="the identity provider is unavailable; retry later",
            )
        try:
            body = response.json()
        except ValueError:
            body = {}
        if response.status_code != 200 or not body.get("access_token"):
            reason = body.get("error_description") or body.get("error") or f"HTTP {response.status_code}"
            raise CrmPermanentError(
                f"the OAuth token endpoint {url} refused the router: {reason}",
                hint="check the client id and secret, the grant and the resource or scope",
            )
        return str(body["access_token"]), float(body.get("expires_in") or 3600)

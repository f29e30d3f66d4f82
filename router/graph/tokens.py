"""App-only tokens from Entra ID through MSAL's confidential client (client secret or certificate).

MSAL caches the token in memory and renews it shortly before it expires. Asking MSAL's cache costs a
search and a telemetry record per call, so ``token()`` also keeps the last token itself until
``RENEW_BEFORE_SECONDS`` before it expires: it is called before every request, and an idle poll is
one request. ``invalidate()`` drops both caches after a 401 so the next call fetches anew. The secret or
private key comes from the vault and never appears in errors: MSAL's error texts name the error code
only.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import msal
import requests

from router.clock import Clock, SystemClock
from router.errors import AuthenticationError, TransientTransportError
from router.graph.clouds import CloudEndpoints

RENEW_BEFORE_SECONDS = 300.0
"""A kept token is asked of MSAL again this long before it expires (MSAL renews it then)."""


@dataclass(frozen=True)
class CertificateCredential:
    """A certificate registered on the app: the PEM private key and the PEM certificate."""

    private_key_pem: str = field(repr=False)
    certificate_pem: str


@dataclass(frozen=True)
class AppCredentials:
    """Who the router is to Entra ID: tenant, client id and a secret or a certificate."""

    tenant: str
    client_id: str
    secret: str | None = field(default=None, repr=False)
    certificate: CertificateCredential | None = None

    def msal_credential(self) -> str | dict[str, str]:
        if self.certificate is not None:
            return {
                "private_key": self.certificate.private_key_pem,
                "public_certificate": self.certificate.certificate_pem,
            }
        if not self.secret:
            raise AuthenticationError(
                f"app {self.client_id} has neither a client secret nor a certificate",
                hint="store the client secret or certificate in the vault and name it in the profile",
            )
        return self.secret


class TokenSource:
    """One app registration's tokens for one cloud's Graph."""

    def __init__(
        self,
        credentials: AppCredentials,
        cloud: CloudEndpoints,
        session: requests.Session,
        authority_host: str,
        clock: Clock | None = None,
    ) -> None:
        self._credentials = credentials
        self._clock = clock or SystemClock()
        self._kept: tuple[str, float] | None = None
        self._scope = cloud.scope
        self._session = session
        self._authority = f"{authority_host.rstrip('/')}/{credentials.tenant}"
        self._app: msal.ConfidentialClientApplication | None = None
        self._lock = threading.Lock()

    def _client(self) -> msal.ConfidentialClientApplication:
        if self._app is None:
            try:
                self._app = msal.ConfidentialClientApplication(
                    self._credentials.client_id,
                    client_credential=self._credentials.msal_credential(),
                    authority=self._authority,
                    http_client=self._session,
                    instance_discovery=False,
                )
            except (ValueError, requests.RequestException) as exc:
                raise TransientTransportError(
                    f"cannot reach the Entra ID authority {self._authority}: {type(exc).__name__}",
                    hint="check the tenant and national cloud of the profile, and the network path",
                    back_off=30.0,
                    code="AuthorityUnreachable",
                ) from None
        return self._app

    def token(self) -> str:
        """A valid access token: the one kept while it has time left, else MSAL's (cached or new)."""
        kept = self._kept
        if kept is not None and self._clock.monotonic() < kept[1]:
            return kept[0]
        with self._lock:
            asked = self._clock.monotonic()
            result = self._acquire()
            if "access_token" in result:
                lifetime = _seconds(result.get("expires_in"))
                token = str(result["access_token"])
                self._kept = (token, asked + lifetime - RENEW_BEFORE_SECONDS) if lifetime > 0 else None
                return token
        code = str(result.get("error", "unknown_error"))
        raise AuthenticationError(
            f"Entra ID refused a token for app {self._credentials.client_id}: {code}",
            hint="check the client id, secret or certificate and tenant in the profile",
            code=code,
        )

    def _acquire(self) -> dict[str, object]:
        """MSAL's answer for the app's token (its cache, or Entra ID); called with the lock held."""
        try:
            return dict(self._client().acquire_token_for_client(scopes=[self._scope]))
        except requests.RequestException as exc:
            raise TransientTransportError(
                f"token request to {self._authority} failed: {type(exc).__name__}",
                hint="check the network path to Entra ID",
                back_off=10.0,
                code="TokenRequestFailed",
            ) from None

    def invalidate(self) -> None:
        """Forget cached tokens (after Graph said the token was invalid)."""
        with self._lock:
            self._app = None
            self._kept = None


def _seconds(value: object) -> float:
    """MSAL's ``expires_in`` (seconds, int or text); 0 when missing or unreadable (nothing is kept)."""
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return 0.0

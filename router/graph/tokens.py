"""App-only tokens from Entra ID through MSAL's confidential client (client secret or certificate).

MSAL caches the token in memory and renews it shortly before it expires; ``token()`` is cheap to call
before every request. ``invalidate()`` drops the cache after a 401 so the next call fetches anew. The
secret or private key comes from the vault and never appears in errors: MSAL's error texts name the
error code only.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import msal
import requests

from router.errors import AuthenticationError, TransientTransportError
from router.graph.clouds import CloudEndpoints


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
    ) -> None:
        self._credentials = credentials
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
        """A valid access token (from MSAL's cache when it has one)."""
        with self._lock:
            try:
                result = self._client().acquire_token_for_client(scopes=[self._scope])
            except requests.RequestException as exc:
                raise TransientTransportError(
                    f"token request to {self._authority} failed: {type(exc).__name__}",
                    hint="check the network path to Entra ID",
                    back_off=10.0,
                    code="TokenRequestFailed",
                ) from None
        if "access_token" not in result:
            code = str(result.get("error", "unknown_error"))
            raise AuthenticationError(
                f"Entra ID refused a token for app {self._credentials.client_id}: {code}",
                hint="check the client id, secret or certificate and tenant in the profile",
                code=code,
            )
        return str(result["access_token"])

    def invalidate(self) -> None:
        """Forget cached tokens (after Graph said the token was invalid)."""
        with self._lock:
            self._app = None

"""Authentication: Basic, NTLM (connection-based, as IIS does it) and Bearer tokens from the token endpoint.

A 401 challenge lists the enabled schemes. NTLM authenticates the TCP connection: once the handshake
succeeds, later requests on the same connection need no Authorization header, which is how
requests-ntlm (and so exchangelib) talks to IIS.
"""

from __future__ import annotations

import base64
import binascii
import secrets
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import parse_qs

from router.simulator.graph import tokens as graph_tokens
from router.simulator.model import App, User
from router.simulator.ntlm import NtlmAcceptor, NtlmError
from router.simulator.permissions import Principal
from router.simulator.store import Store

EXCHANGE_RESOURCE = "00000002-0000-0ff1-ce00-000000000000"
SCHEMES = ("ntlm", "basic", "bearer")


@dataclass
class ConnectionAuth:
    """Per-connection authentication state (the NTLM handshake and its result)."""

    ntlm: NtlmAcceptor | None = None
    user: User | None = None


@dataclass
class AuthResult:
    """Who is calling, or the 401 to send (with its WWW-Authenticate headers)."""

    principal: Principal | None
    headers: list[tuple[str, str]] = field(default_factory=list)
    reason: str = ""


@dataclass(frozen=True)
class IssuedToken:
    principal: Principal
    expires: datetime
    audience: str = ""


class TokenIssuer:
    """Issues and checks bearer tokens for the OAuth client-credentials and password grants."""

    def __init__(self, store: Store, lifetime: int = 3600) -> None:
        self._store = store
        self._lifetime = lifetime
        self._tokens: dict[str, IssuedToken] = {}
        self._lock = threading.Lock()

    def issue(self, principal: Principal, audience: str = "") -> str:
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._tokens[token] = IssuedToken(
                principal, self._store.clock.now() + timedelta(seconds=self._lifetime), audience
            )
        return token

    def check(self, token: str) -> Principal | None:
        issued = self.lookup(token)
        return issued.principal if issued else None

    def lookup(self, token: str) -> IssuedToken | None:
        """The live token issued under ``token`` (its principal and audience), or None."""
        with self._lock:
            issued = self._tokens.get(token)
        if issued is None or issued.expires <= self._store.clock.now():
            return None
        return issued

    def grant(self, form_body: bytes) -> tuple[int, dict[str, object]]:
        """Handle a token-endpoint POST; return (HTTP status, JSON body) as Azure AD shapes them."""
        form = {k: v[0] for k, v in parse_qs(form_body.decode("utf-8", "replace")).items()}
        grant = form.get("grant_type", "")
        if grant == "client_credentials":
            app = (
                graph_tokens.assertion_app(self._store, form)
                if "client_assertion" in form
                else self._secret_app(form)
            )
            if app is None:
                return 401, {
                    "error": "invalid_client",
                    "error_description": "Invalid client secret or client id.",
                }
            principal = Principal(app=app)
        elif grant == "password":
            user = self._store.logon(form.get("username", ""))
            if (
                user is None
                or user.password is None
                or not secrets.compare_digest(user.password, form.get("password", ""))
            ):
                return 400, {"error": "invalid_grant", "error_description": "Invalid username or password."}
            principal = Principal(user=user)
        else:
            return 400, {
                "error": "unsupported_grant_type",
                "error_description": f"'{grant}' is not supported.",
            }
        scope = form.get("scope", f"{EXCHANGE_RESOURCE}/.default")
        return 200, {
            "access_token": self.issue(principal, graph_tokens.audience_of(scope)),
            "token_type": "Bearer",
            "expires_in": self._lifetime,
            "ext_expires_in": self._lifetime,
            "scope": scope,
        }


    def _secret_app(self, form: dict[str, str]) -> App | None:
        app = self._store.apps.get(form.get("client_id", ""))
        if app is None or not secrets.compare_digest(app.client_secret, form.get("client_secret", "")):
            return None
        return app


class Authenticator:
    """Checks the Authorization header against the directory for the enabled schemes."""

    def __init__(
        self,
        store: Store,
        tokens: TokenIssuer,
        schemes: tuple[str, ...] = SCHEMES,
        realm: str = "",
        cert_hash: bytes | None = None,
    ) -> None:
        self._store = store
        self._tokens = tokens
        self.schemes = tuple(s.lower() for s in schemes)
        self._realm = realm or store.hostname
        self._cert_hash = cert_hash

    def challenge(self, reason: str = "") -> AuthResult:
        headers = []
        if "ntlm" in self.schemes:
            headers.append(("WWW-Authenticate", "NTLM"))
        if "basic" in self.schemes:
            headers.append(("WWW-Authenticate", f'Basic realm="{self._realm}"'))
        if "bearer" in self.schemes:
            headers.append(
                (
                    "WWW-Authenticate",
                    f'Bearer client_id="{EXCHANGE_RESOURCE}", '
                    f'trusted_issuers="00000001-0000-0000-c000-000000000000@*", '
                    f'token_types="app_asserted_user_v1 service_asserted_app_v1"',
                )
            )
        return AuthResult(None, headers, reason)

    def authenticate(self, authorization: str | None, conn: ConnectionAuth) -> AuthResult:
        if not authorization:
            if conn.user is not None:
                return AuthResult(Principal(user=conn.user))
            return self.challenge("no credentials")
        scheme, _, value = authorization.strip().partition(" ")
        scheme = scheme.lower()
        if scheme == "basic" and "basic" in self.schemes:
            return self._basic(value.strip())
        if scheme == "bearer" and "bearer" in self.schemes:
            principal = self._tokens.check(value.strip())
            return AuthResult(principal) if principal else self.challenge("invalid or expired token")
        if scheme in ("ntlm", "negotiate") and "ntlm" in self.schemes:
            return self._ntlm(value.strip(), conn, scheme)
        return self.challenge(f"scheme '{scheme}' is not enabled")

    def _basic(self, value: str) -> AuthResult:
        try:
            name, _, password = base64.b64decode(value).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return self.challenge("malformed Basic credentials")
        user = self._store.logon(name)
        if user is None or user.password is None or not secrets.compare_digest(user.password, password):
            return self.challenge(f"bad credentials for {name}")
        return AuthResult(Principal(user=user))

    def _ntlm(self, value: str, conn: ConnectionAuth, scheme: str) -> AuthResult:
        label = "NTLM" if scheme == "ntlm" else "Negotiate"
        try:
            token = base64.b64decode(value)
        except binascii.Error:
            return self.challenge("malformed NTLM token")
        try:
            if token[8:9] == b"\x01":
                conn.ntlm = NtlmAcceptor(self._store.netbios, self._cert_hash)
                conn.user = None
                challenge = base64.b64encode(conn.ntlm.challenge(token)).decode()
                return AuthResult(None, [("WWW-Authenticate", f"{label} {challenge}")], "NTLM challenge")
            if token[8:9] == b"\x03" and conn.ntlm is not None:
                _, name = conn.ntlm.authenticate(token, self._password_of)
                conn.ntlm = None
                conn.user = self._store.logon(name)
                if conn.user is not None:
                    return AuthResult(Principal(user=conn.user))
        except NtlmError as exc:
            conn.ntlm = None
            return self.challenge(str(exc))
        return self.challenge("unexpected NTLM message")

    def _password_of(self, domain: str, name: str) -> str | None:
        user = self._store.logon(f"{domain}\\{name}" if domain else name)
        return user.password if user else None

"""Authentication at the facade: Windows-integrated NTLM / Negotiate, and OAuth bearer tokens.

NTLM is accepted with pyspnego's pure-Python acceptor, which reads the accounts it may accept from the
file named by the ``NTLM_USER_FILE`` environment variable. Because that is process-wide, the facade
writes its own accounts to a private file and points the variable at it only while a handshake step
runs, under one lock (``_NTLM_ENVIRONMENT``), so several facades in one process never see each other's
accounts. As with IIS, NTLM authenticates the connection: later requests on it need no header.

OAuth: the facade is also the token endpoint (``/adfs/oauth2/token``, ``/<tenant>/oauth2/v2.0/token``)
for the client-credentials grant and, as AD FS on-premises requires for the Web API, the resource-owner
password grant. The principal the CRM sees is the domain account (NTLM, password grant) or the client
id (client credentials, matched to a user's application id).
"""

from __future__ import annotations

import base64
import os
import secrets
import shutil
import tempfile
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import spnego
from pydantic import SecretStr
from spnego.exceptions import SpnegoError

from router.clock import Clock
from router.errors import SimulatorError

_NTLM_ENVIRONMENT = threading.Lock()
_NTLM_USER_FILE = "NTLM_USER_FILE"


@dataclass(frozen=True)
class FacadeCredentials:
    """Who may call the facade.

    ``ntlm_accounts`` maps ``DOMAIN\\user`` (or ``user@domain``) to its password, for NTLM/Negotiate and
    the OAuth password grant; ``oauth_clients`` maps client ids to secrets. With ``anonymous_principal``
    set, a request without credentials is served as that principal (for testers browsing the API).
    ``act_on_behalf`` lists the principals holding prvActOnBehalfOfAnotherUser (on-premises: members of
    PrivUserGroup), who may send ``MSCRMCallerID``.
    """

    ntlm_accounts: Mapping[str, SecretStr] = field(default_factory=dict)
    oauth_clients: Mapping[str, SecretStr] = field(default_factory=dict)
    anonymous_principal: str | None = None
    act_on_behalf: frozenset[str] = frozenset()
    token_lifetime: timedelta = timedelta(hours=1)


@dataclass
class ConnectionState:
    """What one HTTP connection has established: an NTLM handshake in progress, or its principal."""

    context: spnego.ContextProxy | None = None
    principal: str | None = None


@dataclass(frozen=True)
class TokenReply:
    """The token endpoint's answer: HTTP status and JSON body."""

    status: int
    body: dict[str, object]


class Authenticator:
    """Checks credentials for one facade; ``close`` removes its account file."""

    def __init__(self, credentials: FacadeCredentials, clock: Clock) -> None:
        self.credentials = credentials
        self.clock = clock
        self._tokens: dict[str, tuple[str, datetime]] = {}
        self._lock = threading.Lock()
        self._directory = Path(tempfile.mkdtemp(prefix="email-router-crm-facade-"))
        self._user_file = self._directory / "ntlm-users"
        self._write_user_file()

    def close(self) -> None:
        """Delete the private NTLM account file."""
        shutil.rmtree(self._directory, ignore_errors=True)

    def _write_user_file(self) -> None:
        lines = []
        for account, password in self.credentials.ntlm_accounts.items():
            secret = password.get_secret_value()
            if ":" in account or any(c in secret for c in ":\r\n"):
                raise SimulatorError(
                    f"the facade account {account!r} cannot be used for NTLM",
                    hint="account names and passwords for the facade may not contain ':'",
                )
            domain, _, user = account.rpartition("\\")
            lines.append(f"{domain}:{user}:{secret}")
        descriptor = os.open(self._user_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write("\n".join(lines) + "\n")

    @property
    def schemes(self) -> list[str]:
        """The WWW-Authenticate challenges to offer."""
        offered = ["Negotiate", "NTLM"] if self.credentials.ntlm_accounts else []
        return offered + (['Bearer realm="email-router"'] if self.credentials.oauth_clients else [])

    @contextmanager
    def _account_file(self) -> Iterator[None]:
        with _NTLM_ENVIRONMENT:
            previous = os.environ.get(_NTLM_USER_FILE)
            os.environ[_NTLM_USER_FILE] = str(self._user_file)
            try:
                yield
            finally:
                if previous is None:
                    os.environ.pop(_NTLM_USER_FILE, None)
                else:
                    os.environ[_NTLM_USER_FILE] = previous

    def ntlm_step(self, state: ConnectionState, token: str) -> str | None:
        """Run one NTLM handshake step; return the challenge to send, or None when it completed.

        On completion ``state.principal`` is set; a bad token or wrong password raises PermissionError
        (the caller answers 401) and resets the handshake.
        """
        try:
            raw = base64.b64decode(token, validate=True)
            with self._account_file():
                if state.context is None or raw[8:9] == b"\x01":
                    state.context = spnego.server(protocol="ntlm", options=spnego.NegotiateOptions.use_ntlm)
                answer = state.context.step(raw)
        except (SpnegoError, ValueError) as exc:
            state.context = None
            raise PermissionError(f"NTLM authentication failed: {exc}") from exc
        if not state.context.complete:
            return base64.b64encode(answer or b"").decode("ascii")
        state.principal = self._known_account(state.context.client_principal or "")
        state.context = None
        return None

    def _known_account(self, principal: str) -> str:
        for account in self.credentials.ntlm_accounts:
            if account.lower() == principal.lower() or account.lower().endswith("\\" + principal.lower()):
                return account
        raise PermissionError(f"{principal} is not an account of this facade")

    def bearer(self, token: str) -> str | None:
        """The principal of a valid, unexpired access token, or None."""
        with self._lock:
            entry = self._tokens.get(token)
        if entry is None or entry[1] <= self.clock.now():
            return None
        return entry[0]

    def issue_token(self, form: Mapping[str, str], basic: tuple[str, str] | None) -> TokenReply:
        """The token endpoint: client-credentials or password grant."""
        client_id = form.get("client_id") or (basic[0] if basic else "")
        secret = form.get("client_secret") or (basic[1] if basic else "")
        expected = self.credentials.oauth_clients.get(client_id)
        if expected is None or not secrets.compare_digest(expected.get_secret_value(), secret):
            return TokenReply(
                401, {"error": "invalid_client", "error_description": "unknown client or bad secret"}
            )
        grant = form.get("grant_type", "")
        if grant == "client_credentials":
            principal = client_id
        elif grant == "password":
            account = self._password_grant(form.get("username", ""), form.get("password", ""))
            if account is None:
                return TokenReply(
                    400, {"error": "invalid_grant", "error_description": "bad user name or password"}
                )
            principal = account
        else:
            return TokenReply(
                400,
                {
                    "error": "unsupported_grant_type",
                    "error_description": f"grant_type {grant!r} is not supported",
                },
            )
        token = secrets.token_urlsafe(32)
        lifetime = self.credentials.token_lifetime
        with self._lock:
            self._tokens[token] = (principal, self.clock.now() + lifetime)
        return TokenReply(
            200, {"access_token": token, "token_type": "bearer", "expires_in": int(lifetime.total_seconds())}
        )

    def _password_grant(self, username: str, password: str) -> str | None:
        for account, secret in self.credentials.ntlm_accounts.items():
            if account.lower() == username.lower() and secrets.compare_digest(
                secret.get_secret_value(), password
            ):
                return account
        return None

"""What the EWS layer needs to connect to one mailbox, independent of how profiles are written.

The configuration layer turns a profile plus a mailbox binding into a ``ConnectionSpec``; the account
factory turns a spec into an exchangelib ``Account``. ``ConnectionSpec`` checks itself when built and
reports every problem at once, naming the mailbox, so a bad profile fails at load, not mid-run.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from urllib.parse import urlsplit

from exchangelib.version import Build
from pydantic import SecretStr

from router.errors import ConfigError


class AuthKind(StrEnum):
    """How the router proves who it is to Exchange."""

    BASIC = "basic"
    NTLM = "ntlm"
    OAUTH = "oauth"


class AccessType(StrEnum):
    """How the account reaches the mailbox: its own or delegated rights, or impersonation."""

    DELEGATE = "delegate"
    IMPERSONATION = "impersonation"


DEFAULT_OAUTH_SCOPE = ("https://outlook.office365.com/.default",)
_BUILD = re.compile(r"^\d+\.\d+(\.\d+){0,2}$")


def exchange_build(text: str) -> Build:
    """The exchangelib ``Build`` of a version string such as ``15.1.2507.6``."""
    return Build(*(int(part) for part in text.split(".")))


def _known_build(text: str) -> bool:
    if not _BUILD.match(text):
        return False
    try:
        exchange_build(text).api_version()
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class ConnectionSpec:
    """One mailbox's connection: where, as whom, how to verify the server, and how patiently.

    ``ews_url`` or ``autodiscover`` must be given. With ``autodiscover`` an ``autodiscover_url`` names
    the Autodiscover endpoint directly; without it the whole Autodiscover algorithm runs on the
    mailbox's domain. ``server_version`` is an Exchange build such as ``15.1.2507.6``; giving it saves
    the version probe on first contact. ``connect_timeout`` limits opening a connection, ``timeout``
    waiting for a response; their sum is the total deadline of one request, however slowly the server
sends. ``max_item_response_bytes`` caps answers that carry messages (GetItem, GetAttachment, ...),
``max_response_bytes`` every other answer. Secrets are ``SecretStr`` and never appear in a repr.
    """

    mailbox: str
    ews_url: str | None = None
    autodiscover: bool = False
    autodiscover_url: str | None = None
    auth: AuthKind = AuthKind.BASIC
    username: str | None = None
    password: SecretStr | None = None
    oauth_client_id: str | None = None
    oauth_client_secret: SecretStr | None = None
    oauth_tenant_id: str | None = None
    oauth_token_endpoint: str | None = None
    oauth_scope: tuple[str, ...] = DEFAULT_OAUTH_SCOPE
    access_type: AccessType = AccessType.DELEGATE
    tls_verify: bool = True
    ca_bundle: Path | None = None
    timeout: float = 120.0
    connect_timeout: float = 10.0
    max_connections: int = 2
    max_response_bytes: int = 16 * 1024 * 1024
    max_item_response_bytes: int = 128 * 1024 * 1024
    server_version: str | None = None

    def __post_init__(self) -> None:
        found = [*self._endpoint_problems(), *self._auth_problems(), *self._tuning_problems()]
        if found:
            lines = "\n".join(f"  - {p}" for p in found)
            raise ConfigError(f"the connection settings of mailbox {self.mailbox} are not usable:\n{lines}",
                              hint="fix the profile bound to this mailbox, then publish again",
                              mailbox=self.mailbox)

    def _endpoint_problems(self) -> list[str]:
        found = []
        if self.mailbox.count("@") != 1 or self.mailbox.startswith("@") or self.mailbox.endswith("@"):
            found.append("the mailbox address must look like user@domain")
        if not self.ews_url and not self.autodiscover:
            found.append("give an EWS URL or turn Autodiscover on")
        if self.ews_url and self.autodiscover:
            found.append("give an EWS URL or turn Autodiscover on, not both")
        for name in ("ews_url", "autodiscover_url"):
            url = getattr(self, name)
            if url and (urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).hostname):
                found.append(f"{name} {url!r} is not an http(s) URL")
        if self.autodiscover_url and not self.autodiscover:
            found.append("autodiscover_url is only used with Autodiscover on")
        if self.ca_bundle is not None and not self.ca_bundle.is_file():
            found.append(f"the CA bundle {self.ca_bundle} does not exist")
        if self.ca_bundle is not None and not self.tls_verify:
            found.append("a CA bundle is given but TLS verification is off")
        return found

    def _auth_problems(self) -> list[str]:
        if self.auth is AuthKind.OAUTH:
            found = [f"OAuth needs {name}" for name in ("oauth_client_id", "oauth_client_secret")
                     if not getattr(self, name)]
            if not self.oauth_tenant_id and not self.oauth_token_endpoint:
                found.append("OAuth needs oauth_tenant_id or oauth_token_endpoint")
            endpoint = self.oauth_token_endpoint
            if endpoint and urlsplit(endpoint).scheme != "https":
                found.append(f"the OAuth token endpoint {endpoint!r} must be an https:// URL")
            return found
        found = [f"{self.auth.value} authentication needs {name}" for name in ("username", "password")
                 if not getattr(self, name)]
        name = self.username or ""
        if self.auth is AuthKind.NTLM and name and "\\" not in name and "@" not in name:
            found.append("NTLM needs the user name as DOMAIN\\user or user@domain")
        return found

    def _tuning_problems(self) -> list[str]:
        found = []
        if self.timeout <= 0 or self.connect_timeout <= 0:
            found.append("timeout and connect_timeout must be positive numbers of seconds")
        if self.max_connections < 1:
            found.append("max_connections must be at least 1")
        if self.server_version and not _known_build(self.server_version):
            found.append(f"server_version {self.server_version!r} must be an Exchange build like 15.1.2507.6")
        return found

    @property
    def timeouts(self) -> tuple[float, float]:
        """(connect, read) seconds, as requests takes them."""
        return self.connect_timeout, self.timeout

    @property
    def domain(self) -> str:
        """The mailbox's email domain, lower case."""
        return self.mailbox.rsplit("@", 1)[-1].lower()

    def describe(self) -> str:
        """A one-line description for logs: never a secret."""
        where = self.ews_url or f"autodiscover {self.autodiscover_url or self.domain}"
        who = self.oauth_client_id if self.auth is AuthKind.OAUTH else self.username
        return f"{self.mailbox} via {where} ({self.auth.value} as {who}, {self.access_type.value})"

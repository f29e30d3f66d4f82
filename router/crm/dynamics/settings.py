"""How the adapter reaches a Dynamics organisation: the Web API URL, credentials, and retry limits."""

from __future__ import annotations

import re
from dataclasses import dataclass

from pydantic import SecretStr

from router.errors import ConfigError

_BASE_URL = re.compile(r"^https?://[^/]+(?:/[^?#]*)?/api/data/v(?P<version>\d+\.\d+)/$")


@dataclass(frozen=True)
class NtlmCredentials:
    """Windows-integrated authentication (NTLM, offered by IIS as Negotiate or NTLM): ``DOMAIN\\user``."""

    username: str
    password: SecretStr


@dataclass(frozen=True)
class OAuthCredentials:
    """OAuth 2.0 against AD FS (IFD) or Azure AD.

    Client credentials by default; with ``username``/``password`` the resource-owner password grant, which
    AD FS on-premises needs because the CRM server does not accept app-only tokens there.
    ``resource`` (AD FS, Azure AD v1) or ``scope`` (Azure AD v2, e.g. ``https://org.crm.dynamics.com/.default``)
    names the CRM.
    """

    token_url: str
    client_id: str
    client_secret: SecretStr
    resource: str | None = None
    scope: str | None = None
    username: str | None = None
    password: SecretStr | None = None


@dataclass(frozen=True, kw_only=True)
class DynamicsSettings:
    """One Dynamics organisation's Web API endpoint and how to call it.

    ``base_url`` is the whole Web API root, e.g. ``https://crm.contoso.com/Contoso/api/data/v9.0/`` (a
    reverse proxy may change host and path, so it is configured as a whole). ``verify`` is True, False or
    the path of a CA bundle. ``impersonate`` is a systemuserid sent as ``MSCRMCallerID``. One call
ends within ``connect_timeout + timeout`` however slowly the CRM answers, reads at most
``max_response_bytes``, and a query follows at most ``max_pages`` pages.
    """

    base_url: str
    credentials: NtlmCredentials | OAuthCredentials
    verify: bool | str = True
    timeout: float = 60.0
    connect_timeout: float = 10.0
    max_retries: int = 3
    max_back_off: float = 120.0
    page_size: int = 500
    max_pages: int = 10_000
    max_response_bytes: int = 128 * 1024 * 1024
    impersonate: str | None = None

    def __post_init__(self) -> None:
        if not self.base_url.endswith("/"):
            object.__setattr__(self, "base_url", self.base_url + "/")
        if not _BASE_URL.match(self.base_url):
            raise ConfigError(
                f"{self.base_url!r} is not a Dynamics Web API URL",
                hint="give the whole root, e.g. https://crm.contoso.com/Contoso/api/data/v9.0/",
            )

    @property
    def version(self) -> str:
        """The Web API version in the URL, e.g. ``9.0``."""
        match = _BASE_URL.match(self.base_url)
        return match.group("version") if match else ""

    @property
    def supports_representation(self) -> bool:
        """``Prefer: return=representation`` exists from v8.2 on."""
        return self.version not in ("8.0", "8.1")

"""Pieces shared by every configuration model: the strict base class, names, TLS and timeouts."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, StrictBool

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
"""Profile and deployment names: letters, digits, '.', '_', '-'; at most 64 characters."""

EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+$"


class StrictModel(BaseModel):
    """Configuration models refuse unknown keys and are immutable once validated."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_enum_values=False)


class AuthMethod(StrEnum):
    """How the router authenticates to a server."""

    BASIC = "basic"
    """Clear Text in the legacy tool: HTTP Basic, acceptable only over HTTPS."""
    NTLM = "ntlm"
    """Windows authentication (NTLM, or Negotiate/Kerberos for the service's own identity)."""
    OAUTH = "oauth"
    """OAuth 2.0 client credentials (an app registration's client id and secret)."""


class Tls(StrictModel):
    """How the server's TLS certificate is checked."""

    verify: StrictBool = Field(
        default=True, description="Verify the server certificate: `true` or `false` only (no \"no\", "
        "\"off\" or 0). `false` is warned about at validate, publish and every start; leave on outside labs.")
    ca_bundle: Path | None = Field(
        default=None,
        description="PEM file of extra trusted CA certificates (e.g. a corporate CA or the simulator's); "
        "a relative path is read from the profiles directory.",
    )


class Timeouts(StrictModel):
    """Network time limits, in seconds."""

    connect_seconds: float = Field(default=10.0, gt=0, le=600, description="Time to open a connection.")
    read_seconds: float = Field(
        default=120.0, gt=0, le=3600, description="Time to wait for a response once the request is sent. "
        "connect + read is also the total deadline of one request: a server that trickles its answer is "
        "cut off then.")


class OAuthSettings(StrictModel):
    """OAuth 2.0 client-credentials settings; the client secret is a credential in the vault."""

    tenant_id: str = Field(
        min_length=1, description="Directory (tenant) id or domain, e.g. `contoso.onmicrosoft.com`.")
    client_id: str = Field(min_length=1, description="Application (client) id of the app registration.")
    authority: HttpUrl = Field(
        default=HttpUrl("https://login.microsoftonline.com"),
        description="Identity platform host; `https://login.partner.microsoftonline.cn` for the China cloud, "
        "`https://login.microsoftonline.us` for US Government.",
    )
    token_endpoint: HttpUrl | None = Field(
        default=None,
        description="Full token URL, overriding `<authority>/<tenant_id>/oauth2/v2.0/token` "
        "(e.g. the simulator's token endpoint).",
    )
    scope: str | None = Field(
        default=None,
        description="Scope requested; default `https://outlook.office365.com/.default` for EWS, "
        "`<origin of the Web API URL>/.default` for Dynamics.",
    )

    def token_url(self) -> str:
        """Return the token endpoint: the override, else the one under ``authority`` for the tenant."""
        if self.token_endpoint is not None:
            return str(self.token_endpoint)
        return f"{str(self.authority).rstrip('/')}/{self.tenant_id}/oauth2/v2.0/token"


def is_https(url: HttpUrl) -> bool:
    """True when ``url`` uses TLS."""
    return url.scheme == "https"

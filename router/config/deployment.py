"""Deployments: one CRM organisation, how to reach it, and its default profiles.

The CRM is either the embedded SQLite CRM that ships with the router or a Dynamics 365 / CRM
on-premises organisation reached over its Web API.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, HttpUrl

from router.config.common import NAME_PATTERN, AuthMethod, OAuthSettings, StrictModel, Timeouts, Tls
from router.home import Home


class EmbeddedCrm(StrictModel):
    """The embedded CRM, a SQLite database owned by the router."""

    database: Path | None = Field(
        default=None,
        description="SQLite file of the embedded CRM; relative paths are inside the home directory. "
        "Default: `crm.sqlite` in the home directory.")

    service_account: str | None = Field(
        default=None,
        description="Domain name of the embedded CRM user the router acts as; unset = the embedded CRM's "
        "own administrator (the router owns this database).")

    def database_path(self, home: Home) -> Path:
        """The SQLite file to open: ``database`` resolved against the home, else the home's default."""
        if self.database is None:
            return home.crm_db
        return self.database if self.database.is_absolute() else home.root / self.database


class DynamicsCrm(StrictModel):
    """A Dynamics 365 / CRM organisation reached through its Web API."""

    url: HttpUrl = Field(
        description="Web API base URL, e.g. `https://crm.contoso.com/contoso/api/data/v9.2/` "
        "(legacy: Microsoft Dynamics CRM Server).")
    auth: AuthMethod = Field(description="`basic`, `ntlm` or `oauth`.")
    oauth: OAuthSettings | None = Field(
        default=None, description="Tenant, client id and authority; required when `auth = \"oauth\"`.")
    credential: str = Field(
        description="Vault credential: `password` for basic/ntlm, `oauth_client_secret` for oauth "
        "(legacy: deployment Access Credentials).")
    timeouts: Timeouts = Field(default_factory=Timeouts, description="Connect and read timeouts.")
    tls: Tls = Field(default_factory=Tls, description="Certificate verification and extra CA bundle.")
    insecure_allow_clear_text_over_http: bool = Field(
        default=False,
        description="DANGER: allow basic or OAuth credentials over plain http. For isolated labs only.")


class Deployment(StrictModel):
    """One CRM organisation, ``[deployments.NAME]``: its CRM connection and default profiles."""

    description: str = Field(default="", description="Free text for admins; not used by the router.")
    embedded: EmbeddedCrm | None = Field(
        default=None, description="Use the embedded CRM (the default when `dynamics` is not set).")
    dynamics: DynamicsCrm | None = Field(
        default=None, description="Use a Dynamics 365 / CRM organisation over its Web API.")
    default_incoming_profile: str | None = Field(
        default=None, description="Incoming profile for mailboxes that name none "
        "(legacy: Default configuration profiles / Incoming).")
    default_outgoing_profile: str | None = Field(
        default=None, description="Outgoing profile for mailboxes that name none "
        "(legacy: Default configuration profiles / Outgoing).")
    loop_identity: str | None = Field(
        default=None, pattern=NAME_PATTERN,
        description="Names this deployment in the X-Email-Router-Loop header of every email it sends, so "
        "that the incoming side skips its own mail when it comes back; default: the deployment's name. "
        "Give two routers serving one CRM the same identity.")

    @property
    def crm(self) -> EmbeddedCrm | DynamicsCrm:
        """The CRM connection: ``dynamics`` when set, else the embedded CRM."""
        return self.dynamics or self.embedded or EmbeddedCrm()

    def loop_name(self, deployment_name: str) -> str:
        """The identity stamped in the loop header: ``loop_identity``, else the deployment's name."""
        return self.loop_identity or deployment_name

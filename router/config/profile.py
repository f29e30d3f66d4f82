"""Connection profiles: how the router reaches Exchange for incoming or outgoing mail.

A profile carries what the legacy Configuration Manager's profile dialog did (direction, server type,
location, authentication, access credentials, user and access type) plus what the legacy router hid
(connection limits, timeouts, TLS). It never holds a secret: it names a credential in the vault.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field, HttpUrl

from router.config.common import AuthMethod, OAuthSettings, StrictModel, Timeouts, Tls
from router.config.incoming import Acknowledgement
from router.config.transport import NationalCloud, Transport


class Direction(StrEnum):
    """Which way mail flows through a profile (fixed once created, as in the legacy tool)."""

    INCOMING = "incoming"
    OUTGOING = "outgoing"


class ServerType(StrEnum):
    """The Exchange server a profile talks to."""

    EXCHANGE_2013 = "exchange_2013"
    EXCHANGE_2016 = "exchange_2016"
    EXCHANGE_2019 = "exchange_2019"
    EXCHANGE_SE = "exchange_se"
    """Exchange Server Subscription Edition."""
    EXCHANGE_ONLINE = "exchange_online"


class CredentialSource(StrEnum):
    """Whose credentials open the mailboxes ("Access Credentials" in the legacy tool)."""

    LOCAL_SYSTEM = "local_system"
    """The service's own identity (Windows integrated authentication); incoming only."""
    USER_SPECIFIED = "user_specified"
    """Each user's or queue's own credential, named on its mailbox binding; on-premises only."""
    OTHER_SPECIFIED = "other_specified"
    """One service account (named by ``credential``) with rights on every mailbox it serves."""


class UserType(StrEnum):
    """Whether the account is the mailbox's own (User) or acts on others' (Administrator)."""

    ADMINISTRATOR = "administrator"
    USER = "user"


class AccessType(StrEnum):
    """How an Administrator account reaches other users' mailboxes."""

    DELEGATE = "delegate"
    """Delegate / Full Access; outgoing mail is sent "on behalf of" the user."""
    SEND_AS = "send_as"
    """Send As permission; outgoing mail appears to come from the user alone (outgoing only)."""
    IMPERSONATION = "impersonation"
    """EWS ApplicationImpersonation; the account acts as the user (required by app-only OAuth)."""


class Profile(StrictModel):
    """One incoming or outgoing connection profile, ``[profiles.NAME]`` in a profiles file."""

    description: str = Field(default="", description="Free text for admins; not used by the router.")
    direction: Direction = Field(description="`incoming` or `outgoing` (legacy: Direction).")
    server_type: ServerType = Field(
        description="`exchange_2013`, `exchange_2016`, `exchange_2019`, `exchange_se` (Subscription "
        "Edition) or `exchange_online` (legacy: E-mail Server Type).")
    transport: Transport = Field(
        default=Transport.EWS,
        description="`ews` (default) or `graph`: Microsoft Graph, for Exchange Online after Microsoft "
        "switches EWS off there on 2027-04-01. Graph needs `auth = \"oauth\"` (app-only) and no EWS "
        "location.")
    national_cloud: NationalCloud = Field(
        default=NationalCloud.GLOBAL,
        description="Graph only: `global`, `us-gov` (GCC High), `us-gov-dod` or `china` (21Vianet); "
        "chooses the Graph endpoint and the token scope.")
    graph_url: HttpUrl | None = Field(
        default=None,
        description="Graph only: override the Graph root (default: the national cloud's, e.g. "
        "`https://graph.microsoft.com/v1.0`), e.g. the simulator's `https://localhost:8443/v1.0`.")
    service_mailbox: str | None = Field(
        default=None, min_length=3, max_length=320,
        description="Graph outgoing only: the service mailbox the router sends as, with `from` set to "
        "the user: Exchange sends as the user with Send As, on behalf of the user with Send On Behalf, and "
        "refuses otherwise; the sent copy is kept in this mailbox's Sent Items. Unset: the router sends "
        "from each user's own mailbox (application permission: as the user).")
    ews_url: HttpUrl | None = Field(
        default=None,
        description="EWS endpoint, e.g. `https://mail.contoso.com/EWS/Exchange.asmx`; set this or "
        "`autodiscover` (legacy: Location).")
    autodiscover: bool = Field(
        default=False, description="Find the EWS endpoint by Autodiscover from each mailbox address "
        "(legacy: Use Autodiscover).")
    autodiscover_url: HttpUrl | None = Field(
        default=None, description="With `autodiscover = true`: the Autodiscover endpoint to ask, e.g. "
        "`https://mail.contoso.com/autodiscover/autodiscover.svc`, where DNS is not set up for "
        "Autodiscover; without it the mailbox domain's DNS (autodiscover host, SRV) is used.")
    auth: AuthMethod = Field(
        description="`basic` (legacy Clear Text), `ntlm` (Windows authentication) or `oauth` "
        "(OAuth 2.0 client credentials).")
    oauth: OAuthSettings | None = Field(
        default=None, description="Tenant, client id and authority; required when `auth = \"oauth\"`.")
    credentials: CredentialSource = Field(
        description="`local_system`, `user_specified` or `other_specified` (legacy: Access Credentials).")
    credential: str | None = Field(
        default=None,
        description="Vault credential of the service account; required for `other_specified`. A "
        "`password` credential for basic/ntlm, an `oauth_client_secret` credential for oauth.")
    user_type: UserType = Field(
        default=UserType.USER,
        description="`administrator` (acts on other users' mailboxes) or `user` (legacy: User Type).")
    access_type: AccessType | None = Field(
        default=None,
        description="Required for administrators: `delegate` (Send On Behalf), `send_as` (outgoing "
        "only) or `impersonation` (legacy: Access Type).")
    max_connections: int = Field(
        default=10, ge=1, le=300,
        description="Most concurrent connections to the server (Dynamics: maxconcurrentconnections).")
    timeouts: Timeouts = Field(default_factory=Timeouts, description="Connect and read timeouts.")
    tls: Tls = Field(default_factory=Tls, description="Certificate verification and extra CA bundle.")
    insecure_allow_clear_text_over_http: bool = Field(
        default=False,
        description="DANGER: allow basic or OAuth credentials over plain http, where anyone on the "
        "network can read them. For isolated labs only.")
    acknowledge: Acknowledgement = Field(
        default_factory=Acknowledgement,
        description="Incoming profiles: what is done on the server to a message once the CRM holds it "
        "(legacy: the router's move / delete options). Default: add the category `Tracked to Dynamics 365`.")

    @property
    def is_online(self) -> bool:
        """True for Exchange Online."""
        return self.server_type is ServerType.EXCHANGE_ONLINE

"""Which transport a profile uses to reach Exchange (EWS or Microsoft Graph), and the rules for Graph.

Microsoft switches EWS off in Exchange Online on 2027-04-01 (on-premises Exchange keeps it). A profile
chooses ``transport = "graph"`` to reach Exchange Online mailboxes through Microsoft Graph instead;
``validate`` and ``publish`` warn about every Exchange Online profile still on EWS, with the days left.

Graph profiles use app-only OAuth: an app registration (tenant, client id) whose client secret
(``oauth_client_secret``) or certificate (``oauth_certificate``) is in the vault, in one national cloud.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from enum import StrEnum
from typing import TYPE_CHECKING

from router.config.common import AuthMethod

if TYPE_CHECKING:
    from router.config.profile import Profile
    from router.config.profileset import ProfileSet

EWS_SWITCH_OFF = date(2027, 4, 1)
"""The day Microsoft switches EWS off in Exchange Online."""
README_SECTION = 'README "Exchange Online after EWS: Microsoft Graph"'


class Transport(StrEnum):
    """The protocol a profile speaks to Exchange."""

    EWS = "ews"
    """Exchange Web Services (on-premises Exchange, and Exchange Online until 2027-04-01)."""
    GRAPH = "graph"
    """Microsoft Graph (Exchange Online only)."""


class NationalCloud(StrEnum):
    """The Microsoft cloud an Exchange Online tenant lives in (its Entra ID and Graph endpoints)."""

    GLOBAL = "global"
    US_GOV = "us-gov"
    """US Government L4 (GCC High): login.microsoftonline.us, graph.microsoft.us."""
    US_GOV_DOD = "us-gov-dod"
    """US Government L5 (DoD): login.microsoftonline.us, dod-graph.microsoft.us."""
    CHINA = "china"
    """Operated by 21Vianet: login.chinacloudapi.cn, microsoftgraph.chinacloudapi.cn."""


AUTHORITY = {
    NationalCloud.GLOBAL: ("login.microsoftonline.com",),
    NationalCloud.US_GOV: ("login.microsoftonline.us",),
    NationalCloud.US_GOV_DOD: ("login.microsoftonline.us",),
    NationalCloud.CHINA: ("login.chinacloudapi.cn", "login.partner.microsoftonline.cn"),
}
"""The Entra ID hosts each cloud signs in at (21Vianet has a current and an older name)."""


def graph_problems(p: Profile) -> Iterator[tuple[str, str]]:
    """(key, message) for every rule a Graph profile breaks; nothing for an EWS profile."""
    if p.transport is not Transport.GRAPH:
        if p.graph_url is not None or p.national_cloud is not NationalCloud.GLOBAL:
            yield ("transport", 'graph_url and national_cloud are used with transport = "graph" only: '
                   "remove them, or switch the profile to Graph")
        if p.service_mailbox is not None:
            yield ("service_mailbox", 'service_mailbox is used with transport = "graph" only: remove it '
                   "(over EWS the profile's credential decides whose mailbox sends)")
        return
    if p.service_mailbox is not None:
        if p.direction != "outgoing":
            yield ("service_mailbox", "service_mailbox names who sends outgoing mail: remove it from this "
                   "incoming profile")
        elif not _is_address(p.service_mailbox):
            yield ("service_mailbox", f"{p.service_mailbox!r} is not an e-mail address: name the service "
                   "mailbox by its primary SMTP address, e.g. crm.service@contoso.com")
        elif p.access_type not in ("send_as", "delegate"):
            yield ("access_type", 'a service mailbox sends for the users as Exchange allows it: set '
                   'access_type = "send_as" (or "delegate" for Send On Behalf)')
    if not p.is_online:
        yield ("server_type", 'transport = "graph" serves Exchange Online only: set server_type = '
               '"exchange_online", or keep transport = "ews" for on-premises Exchange')
    if p.auth is not AuthMethod.OAUTH:
        yield ("auth", 'Microsoft Graph takes app-only OAuth: set auth = "oauth" with an oauth table '
               "(tenant_id, client_id) and a credential holding the client secret or certificate")
    if p.ews_url is not None or p.autodiscover:
        yield ("ews_url" if p.ews_url is not None else "autodiscover",
               'EWS locations are not used with transport = "graph": remove ews_url / autodiscover')
    if p.oauth is not None and p.oauth.token_endpoint is None:
        host = p.oauth.authority.host or ""
        expected = AUTHORITY[p.national_cloud]
        if host not in expected:
            yield ("oauth.authority", f"national_cloud = \"{p.national_cloud}\" signs in at "
                   f"https://{expected[0]}, not https://{host}: fix oauth.authority or national_cloud")


def _is_address(text: str) -> bool:
    """True for ``local@domain.tld`` with nothing else around it."""
    local, _, domain = text.partition("@")
    return bool(local) and "." in domain and not any(c.isspace() or c in "<>,;\"" for c in text) \
        and "@" not in domain


def ews_switch_off_warnings(profile_set: ProfileSet, today: date) -> list[str]:
    """One warning per Exchange Online profile still on EWS, with the date and the days left."""
    days = (EWS_SWITCH_OFF - today).days
    when = (f"on {EWS_SWITCH_OFF.isoformat()} ({days} days left)" if days >= 0
            else f"since {EWS_SWITCH_OFF.isoformat()} ({-days} days ago)")
    return [
        f'warning: profile "{name}" reaches Exchange Online over EWS, which Microsoft switches off {when}: '
        f'set transport = "graph" (see {README_SECTION})'
        for name, p in sorted(profile_set.profiles.items())
        if p.is_online and p.transport is Transport.EWS
    ]

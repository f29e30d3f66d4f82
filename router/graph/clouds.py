"""National clouds: where each one's Entra ID authority and Microsoft Graph live.

The token's scope is always the cloud's Graph resource + ``/.default`` (app-only tokens carry the
application permissions consented in the tenant). ``authority_host`` / ``graph_url`` can be overridden
(tests point them at the simulator) while the scope stays the cloud's own resource.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class NationalCloud(StrEnum):
    """The clouds Exchange Online runs in, as a profile names them."""

    GLOBAL = "global"
    US_GOV = "us-gov"
    US_GOV_DOD = "us-gov-dod"
    CHINA = "china"


@dataclass(frozen=True)
class CloudEndpoints:
    authority_host: str
    graph_resource: str

    @property
    def scope(self) -> str:
        return f"{self.graph_resource}/.default"

    @property
    def graph_url(self) -> str:
        return f"{self.graph_resource}/v1.0"


ENDPOINTS = {
    NationalCloud.GLOBAL: CloudEndpoints("https://login.microsoftonline.com", "https://graph.microsoft.com"),
    NationalCloud.US_GOV: CloudEndpoints("https://login.microsoftonline.us", "https://graph.microsoft.us"),
    NationalCloud.US_GOV_DOD: CloudEndpoints(
        "https://login.microsoftonline.us", "https://dod-graph.microsoft.us"
    ),
    NationalCloud.CHINA: CloudEndpoints(
        "https://login.chinacloudapi.cn", "https://microsoftgraph.chinacloudapi.cn"
    ),
}
"""Entra ID authority host and Graph resource of each national cloud (Microsoft's published table)."""


def endpoints(cloud: NationalCloud | str) -> CloudEndpoints:
    return ENDPOINTS[NationalCloud(cloud)]

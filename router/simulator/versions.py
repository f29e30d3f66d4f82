"""The server build the simulator reports and the request schema versions it accepts.

Exchange answers a RequestServerVersion newer than its build with an ``ErrorInvalidServerVersion``
fault, which is what makes exchangelib fall back to an older version, so the accepted set follows
the configured build.
"""

from __future__ import annotations

from dataclasses import dataclass

API_VERSIONS = (
    "Exchange2007",
    "Exchange2007_SP1",
    "Exchange2010",
    "Exchange2010_SP1",
    "Exchange2010_SP2",
    "Exchange2013",
    "Exchange2013_SP1",
    "Exchange2015",
    "Exchange2016",
    "V2015_10_05",
    "V2016_01_06",
    "V2016_04_13",
    "V2016_07_13",
    "V2016_10_10",
    "V2017_01_07",
    "V2017_04_14",
    "V2017_07_11",
    "V2017_10_09",
    "V2018_01_08",
)
"""Request versions of the schema's ExchangeVersionType, oldest first (internal placeholders left out)."""


@dataclass(frozen=True)
class ServerBuild:
    """A server build as ServerVersionInfo reports it."""

    major: int = 15
    minor: int = 2
    build: int = 2562
    revision: int = 17
    schema: str = "V2017_07_11"

    @classmethod
    def parse(cls, text: str) -> ServerBuild:
        """Parse ``15.2.2562.17`` (an optional ``/V2017_07_11`` suffix sets the schema version)."""
        number, _, schema = text.partition("/")
        parts = [int(p) for p in number.split(".")]
        if len(parts) != 4:
            raise ValueError(f"'{text}' is not a build number like 15.2.2562.17")
        default = "V2017_07_11" if parts[:2] >= [15, 1] else ("V2_10" if parts[0] == 15 else "")
        major, minor, build, revision = parts
        return cls(major, minor, build, revision, schema or default)

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.build}.{self.revision}"

    @property
    def newest_api(self) -> str:
        if (self.major, self.minor) >= (15, 1):
            return self.schema if self.schema in API_VERSIONS else "Exchange2016"
        if self.major == 15:
            return "Exchange2013_SP1"
        return "Exchange2010_SP2"

    def accepts(self, requested: str) -> bool:
        """Whether a request for schema version ``requested`` is served by this build."""
        if requested not in API_VERSIONS:
            return False
        return API_VERSIONS.index(requested) <= API_VERSIONS.index(self.newest_api)

    def attributes(self) -> dict[str, str]:
        attrs = {
            "MajorVersion": str(self.major),
            "MinorVersion": str(self.minor),
            "MajorBuildNumber": str(self.build),
            "MinorBuildNumber": str(self.revision),
        }
        if self.schema:
            attrs["Version"] = self.schema
        return attrs


EXCHANGE_SE = ServerBuild()
"""Exchange Server Subscription Edition RTM (15.2.2562.17), the supported on-premises line."""

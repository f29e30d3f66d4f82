"""What the notification hub watches for one incoming lane (``Watch``), and how watches group.

Subscriptions share a streaming connection when they are made with the same credentials at the same
endpoint (``Watch.account``): Exchange's limit on streaming connections is per account, and a
connection may only carry subscriptions its caller made.
"""

from __future__ import annotations

from dataclasses import dataclass

from router.ews import ConnectionSpec
from router.runtime.lane import LaneKey


@dataclass(frozen=True)
class Watch:
    """What to watch for one lane: its mailbox's connection, folder, and the stream's renewal period."""

    key: LaneKey
    spec: ConnectionSpec
    folder: str
    minutes: int

    @property
    def account(self) -> tuple[str, str]:
        """The account the subscription is made as: endpoint and login (a service account, an OAuth
        application, or the mailbox's own logon)."""
        login = self.spec.username or self.spec.oauth_client_id or self.spec.mailbox
        where = self.spec.ews_url or f"autodiscover:{self.spec.domain}"
        return where.lower(), login.lower()

    @property
    def group(self) -> tuple[str, str, int]:
        """The watches that may share one connection: same account, same renewal period."""
        return (*self.account, self.minutes)

"""An incoming lane's mailbox reached through the mailbox-session contract (router.mailbox.session).

Microsoft Graph mailboxes are served this way: the lane steps (``sync_page``, ``fetch_resilient``,
``acknowledge``) see a ``ContractSession`` and call the contract's ``sync_page`` / ``fetch`` /
``acknowledge``, with the same ledger, screening, quarantine and exactly-once around them as for EWS.
EWS lanes still call exchangelib through ``router.pipeline.incoming.session.MailboxSession`` (same
behaviour, older code); both are ``LaneSession``.

There is no endpoint to rediscover (Graph's root is fixed per cloud), and no notification stream: a
Graph lane polls by delta, which is cheap (an unchanged Inbox answers one small page).
"""

from __future__ import annotations

from router.errors import TransportError
from router.mailbox.session import MailboxSession as Contract
from router.pipeline.incoming.session import MailboxSession


class ContractSession:
    """A lane's open mailbox over a transport's ``MailboxSession`` implementation."""

    def __init__(self, contract: Contract) -> None:
        self.contract = contract
        self.mailbox = contract.address.lower()

    def endpoint_failed(self, error: TransportError) -> bool:
        """Nothing to rediscover: the session stays open."""
        return False


LaneSession = MailboxSession | ContractSession
"""What the incoming lane steps take: an EWS session (exchangelib) or a contract session (Graph)."""

"""Forward mailbox mode: whose mail a forwarded message is, asked of the CRM's Load Data.

Each CRM user whose incoming e-mail delivery method is "Forward Mailbox" has an inbox rule that
forwards every message as an attachment to the forward mailbox. ``unwrap_forward`` (pure) extracts
the original; ``ForwardUsers`` answers whether an address is such a user, from the CRM's Load Data
(the mailboxes that use the router), re-read every ``ConfigUpdatePeriod`` as the legacy router did.
The original is then delivered as if it had been read from that user's own mailbox.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from router.clock import Clock
from router.crm.codes import IncomingDeliveryMethod
from router.crm.gateway import CrmGateway


class ForwardUsers:
    """The addresses of the CRM's forward-mailbox users, cached for ``refresh_seconds``."""

    def __init__(self, gateway: Callable[[], CrmGateway], clock: Clock, refresh_seconds: float) -> None:
        self._gateway = gateway
        self._clock = clock
        self._refresh = refresh_seconds
        self._addresses: frozenset[str] = frozenset()
        self._loaded_at: float | None = None
        self._lock = threading.Lock()

    def __call__(self, address: str) -> bool:
        """True when ``address`` (lower-cased) belongs to an approved forward-mailbox user."""
        return address.strip().lower() in self.addresses()

    def addresses(self) -> frozenset[str]:
        """The current set, reloaded from the CRM when older than the refresh period."""
        with self._lock:
            now = self._clock.monotonic()
            if self._loaded_at is None or now - self._loaded_at >= self._refresh:
                self._addresses = frozenset(
                    m.address.strip().lower() for m in self._gateway().load_data()
                    if m.incoming_method is IncomingDeliveryMethod.FORWARD_MAILBOX and m.approved)
                self._loaded_at = now
            return self._addresses

    def forget(self) -> None:
        """Reload at the next question (a forwarder was not found: the CRM may have changed since)."""
        with self._lock:
            self._loaded_at = None

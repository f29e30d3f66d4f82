"""What every lane of one running service shares: the state store, EWS accounts and CRM gateways.

Lanes are many and short-lived (rebuilt when a published version changes them); the things they lean
on are few and long-lived. ``Resources`` owns them, opens each lazily and once, and closes them all when
the service stops. CRM gateways are keyed by (published version, deployment) so a new version with a
changed CRM connection gets a fresh gateway while lanes of the old version finish with the old one.
"""

from __future__ import annotations

import threading

from router.clock import Clock
from router.config.published import PublishedConfig
from router.crm.gateway import CrmGateway
from router.ews.connection import AccountFactory
from router.home import Home
from router.service.crm_factory import open_gateway
from router.service.metrics import Metrics
from router.state import StateStore


class Resources:
    """Shared, lazily opened resources of one service run; thread-safe; ``close`` releases them all."""

    def __init__(self, home: Home, clock: Clock, metrics: Metrics, *,
                 store: StateStore | None = None) -> None:
        self.home = home
        self.clock = clock
        self.metrics = metrics
        self.accounts = AccountFactory(clock)
        self._store = store
        self._owns_store = store is None
        self._gateways: dict[tuple[int, str], CrmGateway] = {}
        self._lock = threading.Lock()

    @property
    def store(self) -> StateStore:
        """The router's state store (the home's SQLite file unless one was given)."""
        with self._lock:
            if self._store is None:
                self._store = StateStore.open_home(self.home, self.clock)
            return self._store

    def gateway(self, config: PublishedConfig, deployment: str) -> CrmGateway:
        """The CRM gateway of ``deployment`` as published in ``config``, opened once."""
        key = (config.version, deployment)
        with self._lock:
            gateway = self._gateways.get(key)
            if gateway is None:
                gateway = open_gateway(config, deployment, self.home, self.clock)
                self._gateways[key] = gateway
            return gateway

    def close(self) -> None:
        """Close every gateway, the EWS connection pools and (if opened here) the state store."""
        with self._lock:
            gateways, self._gateways = list(self._gateways.values()), {}
            store, owns = self._store, self._owns_store
        for gateway in gateways:
            gateway.close()
        self.accounts.close()
        if store is not None and owns:
            store.close()

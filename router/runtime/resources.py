"""What every lane of one running service shares: the state store, EWS accounts, Graph clients and CRM
gateways.

Lanes are many and short-lived (rebuilt when a published version changes them); the things they lean
on are few and long-lived. ``Resources`` owns them, opens each lazily and once, and closes them all when
the service stops. CRM gateways are keyed by deployment and what its CRM connection is (the published
``crm`` table, the source directory relative paths resolve against, and the credential's content): a
new version that leaves the connection alone shares the running gateway, so publishing a hundred times
opens no new connection, while a version with a changed connection gets a fresh gateway and lanes of the
old version finish with the old one.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import threading
from typing import Any

from router.clock import Clock
from router.config.deployment import DynamicsCrm
from router.config.published import PublishedConfig
from router.crm.gateway import CrmGateway
from router.ews.connection import AccountFactory
from router.graph.factory import GraphFactory
from router.home import Home
from router.runtime.counted_gateway import counted
from router.runtime.crm_factory import deployment_of, open_gateway
from router.runtime.metrics import Metrics
from router.runtime.state_location import open_configured_store
from router.state import StateStore
from router.state.instances import RunIdentity, default_instance_name
from router.vault.credentials import to_plain


class Resources:
    """Shared, lazily opened resources of one service run; thread-safe; ``close`` releases them all."""

    def __init__(self, home: Home, clock: Clock, metrics: Metrics, *,
                 store: StateStore | None = None, identity: RunIdentity | None = None) -> None:
        self.home = home
        self.identity = identity or RunIdentity.new(default_instance_name(home))
        """This run of this router instance: every claim's owner starts with its ``tag``."""
        self.clock = clock
        self.metrics = metrics
        self.accounts = AccountFactory(clock)
        self.graphs = GraphFactory(clock)
        """Graph clients, one per app registration, shared by every Graph mailbox of that app."""
        self._store = store
        self._owns_store = store is None
        self._gateways: dict[tuple[str, str], CrmGateway] = {}
        self._lock = threading.Lock()
        self._key = os.urandom(32)

    @property
    def store(self) -> StateStore:
        """The router's state store: the one given, else the one the published settings name."""
        with self._lock:
            if self._store is None:
                self._store = open_configured_store(self.home, self.clock)
            return self._store

    def gateway(self, config: PublishedConfig, deployment: str) -> CrmGateway:
        """The CRM gateway of ``deployment`` as published in ``config``, opened once per connection."""
        key = (deployment, self._connection(config, deployment))
        with self._lock:
            gateway = self._gateways.get(key)
            if gateway is None:
                gateway = counted(open_gateway(config, deployment, self.home, self.clock), deployment,
                                  self.metrics)
                self._gateways[key] = gateway
            return gateway

    def _connection(self, config: PublishedConfig, deployment: str) -> str:
        """A keyed hash of what the gateway of ``deployment`` connects with (the key is never stored)."""
        crm = deployment_of(config, deployment).crm
        document: dict[str, Any] = {"crm": crm.model_dump(mode="json"), "source": config.source}
        if isinstance(crm, DynamicsCrm):
            document["credential"] = to_plain(config.credential(crm.credential))
        text = json.dumps(document, sort_keys=True, default=str).encode("utf-8")
        return hmac.new(self._key, text, hashlib.sha256).hexdigest()

    def __enter__(self) -> Resources:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close every gateway, the EWS connection pools and (if opened here) the state store."""
        with self._lock:
            gateways, self._gateways = list(self._gateways.values()), {}
            store, owns = self._store, self._owns_store
        for gateway in gateways:
            gateway.close()
        self.accounts.close()
        self.graphs.close()
        if store is not None and owns:
            store.close()

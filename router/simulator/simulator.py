"""The simulator's parts wired together: store, authentication, EWS and Graph endpoints, autodiscover,
control API."""

from __future__ import annotations

import threading

from router.clock import Clock
from router.simulator.auth import Authenticator, TokenIssuer
from router.simulator.autodiscover import Autodiscover
from router.simulator.config import ServerConfig
from router.simulator.control import ControlAPI, ControlHttp
from router.simulator.dispatch import EwsEndpoint
from router.simulator.faults import FaultPlan
from router.simulator.graph.endpoint import GraphEndpoint
from router.simulator.store import Store
from router.simulator.validation import SchemaValidator


class Simulator:
    """One simulated Exchange organisation and the services in front of it (no sockets here)."""

    def __init__(
        self,
        config: ServerConfig | None = None,
        *,
        clock: Clock | None = None,
        validator: SchemaValidator | None = None,
        cert_hash: bytes | None = None,
    ) -> None:
        self.config = config or ServerConfig()
        self.store = Store(clock=clock, hostname=self.config.hostname)
        self.stopping = threading.Event()
        self.tokens = TokenIssuer(self.store)
        self.auth = Authenticator(self.store, self.tokens, self.config.auth_schemes, cert_hash=cert_hash)
        self.faults = FaultPlan()
        self.validator = validator
        self.endpoint = EwsEndpoint(self.store, self.config, self.auth, self.faults, validator, self.stopping)
        self.graph = GraphEndpoint(self.store, self.config, self.tokens, self.faults)
        self.autodiscover = Autodiscover(self.store, self.config.build, "")
        self.control = ControlAPI(self.store, self.endpoint, self.tokens, self.graph)
        self.control_http = ControlHttp(self.control)

    def set_base_url(self, base_url: str) -> None:
        """Tell autodiscover where the EWS endpoint is reachable (known once the port is bound)."""
        self.autodiscover.ews_url = base_url.rstrip("/") + "/EWS/Exchange.asmx"

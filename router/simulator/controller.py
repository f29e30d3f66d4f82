"""Controller: run a simulator in a background thread, the way aiosmtpd's Controller runs an SMTP server.

with Controller(seed="org.toml") as sim:
    sim.url         # https://127.0.0.1:PORT/EWS/Exchange.asmx
    sim.ca_file     # the CA certificate clients must trust
    sim.control     # ControlAPI: seed, inject, grant/revoke, messages, journal, fault, token
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from types import TracebackType
from typing import Any

from router.clock import Clock
from router.errors import SimulatorError
from router.simulator.config import ServerConfig
from router.simulator.control import ControlAPI
from router.simulator.server import SimulatorHTTPServer, serve_in_thread
from router.simulator.simulator import Simulator
from router.simulator.store import Store
from router.simulator.tls import TlsFiles, ensure_certificates
from router.simulator.validation import SchemaValidator


class Controller:
    """Start/stop a simulator on ``host:port`` (default 127.0.0.1, an ephemeral port) over HTTPS."""

    def __init__(
        self,
        *,
        config: ServerConfig | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        state_dir: Path | None = None,
        seed: Path | str | dict[str, Any] | None = None,
        tls: bool = True,
        clock: Clock | None = None,
        validator: SchemaValidator | None = None,
    ) -> None:
        self.config = config or ServerConfig()
        self.host = host
        self.port = port
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if state_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="ews-sim-")
            state_dir = Path(self._tmp.name)
        self.state_dir = state_dir
        self.tls_files: TlsFiles | None = None
        if tls:
            self.tls_files = ensure_certificates(
                state_dir / "tls", ["localhost", "127.0.0.1", self.config.hostname, host]
            )
        self.simulator = Simulator(
            self.config,
            clock=clock,
            validator=validator,
            cert_hash=self.tls_files.cert_hash() if self.tls_files else None,
        )
        if seed is not None:
            self.simulator.control.seed(seed)
        self._server: SimulatorHTTPServer | None = None

    @property
    def control(self) -> ControlAPI:
        return self.simulator.control

    @property
    def store(self) -> Store:
        return self.simulator.store

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise SimulatorError("the simulator is not running", hint="call start() first")
        scheme = "https" if self.tls_files else "http"
        host = "localhost" if self.host in ("127.0.0.1", "0.0.0.0") else self.host
        return f"{scheme}://{host}:{self._server.server_address[1]}"

    @property
    def url(self) -> str:
        """The EWS endpoint URL."""
        return self.base_url + "/EWS/Exchange.asmx"

    @property
    def autodiscover_url(self) -> str:
        return self.base_url + "/autodiscover/autodiscover.svc"

    @property
    def token_url(self) -> str:
        return self.base_url + "/common/oauth2/v2.0/token"

    @property
    def graph_url(self) -> str:
        """The Microsoft Graph root (``.../v1.0``)."""
        return self.base_url + "/v1.0"

    def authority(self, tenant: str = "common") -> str:
        """The MSAL authority of ``tenant`` on this simulator."""
        return f"{self.base_url}/{tenant}"

    @property
    def ca_file(self) -> Path:
        if self.tls_files is None:
            raise SimulatorError("the simulator runs without TLS", hint="start it without plain_http")
        return self.tls_files.ca_file

    def start(self) -> Controller:
        try:
            self._server = SimulatorHTTPServer(
                (self.host, self.port), self.simulator, self.tls_files.context() if self.tls_files else None
            )
        except OSError as exc:
            raise SimulatorError(
                f"cannot listen on {self.host}:{self.port}: {exc.strerror}",
                hint="choose another --port, or stop what is using it",
            ) from exc
        self.simulator.set_base_url(self.base_url)
        serve_in_thread(self._server)
        return self

    def stop(self) -> None:
        self.simulator.stopping.set()
        self.simulator.store.events.wake_all()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> Controller:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

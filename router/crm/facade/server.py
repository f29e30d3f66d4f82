"""``CrmFacade``: the Dynamics Web API served over the embedded CRM, on a real HTTP(S) socket.

Start it with ``start()`` (or as a context manager) and point the Dynamics adapter, or any OData client,
at ``api_url()``. It listens on 127.0.0.1 and an ephemeral port unless told otherwise; ``stop()`` closes
every open connection and joins the handler threads.
"""

from __future__ import annotations

import socket
import ssl
import threading
from http.server import ThreadingHTTPServer
from typing import Any

from router.crm.embedded.crm import EmbeddedCrm
from router.crm.facade.auth import Authenticator, FacadeCredentials
from router.crm.facade.dispatch import DEFAULT_BEHAVIOUR, Behaviour
from router.crm.facade.faults import FaultPlan
from router.crm.facade.handler import FacadeHandler
from router.crm.facade.iis import IIS_DEFAULTS, RequestLimits
from router.crm.facade.journal import Journal
from router.errors import SimulatorError

#: The largest request body the facade reads (IIS' default maxAllowedContentLength is far lower; the
#: Web API allows attachments up to 128 MB, Base64-encoded).
MAX_REQUEST_BYTES = 192 * 1024 * 1024


class FacadeHttpServer(ThreadingHTTPServer):
    """A threading HTTP server that remembers its open connections so ``stop`` can close them."""

    daemon_threads = True
    block_on_close = True

    def __init__(self, address: tuple[str, int], facade: CrmFacade) -> None:
        self.facade = facade
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(address, FacadeHandler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Shut down every connection still open (idle keep-alive clients included)."""
        with self._open_lock:
            sockets = list(self._open)
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                continue


class CrmFacade:
    """The Web API facade over ``crm``; thread-safe, one per port."""

    def __init__(
        self,
        crm: EmbeddedCrm,
        *,
        credentials: FacadeCredentials,
        host: str = "127.0.0.1",
        port: int = 0,
        ssl_context: ssl.SSLContext | None = None,
        max_request_bytes: int = MAX_REQUEST_BYTES,
        behaviour: Behaviour = DEFAULT_BEHAVIOUR,
        limits: RequestLimits = IIS_DEFAULTS,
    ) -> None:
        self.crm = crm
        self.behaviour = behaviour
        self.authenticator = Authenticator(credentials, crm.clock)
        self.faults = FaultPlan()
        self.journal = Journal()
        """Every authenticated request and what the facade did with it (tests read it)."""
        self.max_request_bytes = max_request_bytes
        self.limits = limits
        """IIS's URL limits, applied before anything else (``iis``)."""
        self.scheme = "https" if ssl_context else "http"
        self._address = (host, port)
        self._ssl_context = ssl_context
        self._server: FacadeHttpServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> CrmFacade:
        """Bind and serve in a background thread; return self."""
        try:
            server = FacadeHttpServer(self._address, self)
        except OSError as exc:
            self.authenticator.close()
            raise SimulatorError(
                f"the CRM facade cannot listen on {self._address[0]}:{self._address[1]}: {exc}",
                hint="choose another --port, or stop what is using it",
            ) from exc
        if self._ssl_context is not None:
            server.socket = self._ssl_context.wrap_socket(
                server.socket, server_side=True, do_handshake_on_connect=False
            )
        self._server = server
        # A short poll interval makes stop() prompt (serve_forever checks for shutdown at each poll).
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.02}, name="crm-facade", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, close every connection and remove the facade's temporary files."""
        if self._server is not None:
            self._server.shutdown()
            self._server.close_connections()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self.authenticator.close()

    def __enter__(self) -> CrmFacade:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The port the facade listens on."""
        if self._server is None:
            raise SimulatorError("the CRM facade is not running", hint="call start() first")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """``http(s)://host:port`` of the facade."""
        return f"{self.scheme}://{self._address[0]}:{self.port}"

    def api_url(self, version: str = "9.0", organization: str | None = None) -> str:
        """The Web API base URL, e.g. ``http://127.0.0.1:8080/contoso/api/data/v9.0/``."""
        prefix = f"/{organization}" if organization else ""
        return f"{self.url}{prefix}/api/data/v{version}/"

    @property
    def token_url(self) -> str:
        """The OAuth token endpoint (AD FS form)."""
        return f"{self.url}/adfs/oauth2/token"

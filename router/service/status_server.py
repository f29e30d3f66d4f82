"""The service's HTTP status endpoint: ``/metrics`` for Prometheus, ``/healthz`` and ``/readyz`` for probes.

``StatusServer`` serves one ``Metrics`` registry (never prometheus_client's global one) and two probes
whose answers come from callables the service provides: *health* says whether the process works at all
(a supervisor restarts it when not), *readiness* whether it is doing its job (configuration loaded,
state store open, lanes scheduled). Each probe answers 200 with ``{"status": "ok"}`` (or
``"degraded"``, see ``ProbeResult``) or 503 with ``{"status": "unavailable"}``, plus the probe's
detail and checks, as JSON. A probe that raises counts
as unavailable and its error is reported, never a traceback.

The server is a threading WSGI server from the standard library on its own daemon thread, listening
on an IPv4 address: 127.0.0.1 unless Prometheus scrapes from another host (then 0.0.0.0 or the
host's address). Port 0 picks a free port (see ``port``).

Any other path goes to an optional ``console`` WSGI application (the admin's web console, which does
its own sign-in); without one it is a 404. With an ``ssl_context`` the server speaks HTTPS only.
"""

from __future__ import annotations

import json
import logging
import ssl
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import make_wsgi_app

from router.errors import ConfigError
from router.runtime.metrics import Metrics

log = logging.getLogger(__name__)

StartResponse = Callable[[str, list[tuple[str, str]]], Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


@dataclass(frozen=True)
class ProbeResult:
    """One probe's answer: ``ok``, a sentence for humans, and named sub-checks.

    ``degraded`` marks an answer that is ok but not fully so (the service runs; some mailboxes need an
    admin): it is served as 200 with ``{"status": "degraded"}``, so a supervisor does not restart a
    process that a restart would not mend, while monitoring can still tell.
    """

    ok: bool
    detail: str = ""
    checks: Mapping[str, bool] = field(default_factory=dict)
    degraded: bool = False


Probe = Callable[[], ProbeResult]
"""What the service provides for /healthz and /readyz; called on every request, so keep it cheap."""


def always_ok() -> ProbeResult:
    """A probe for processes that have nothing to check yet."""
    return ProbeResult(True)


class StatusServer:
    """Serves /metrics, /healthz and /readyz until ``stop``; usable as a context manager."""

    def __init__(self, metrics: Metrics, *, health: Probe = always_ok, ready: Probe = always_ok,
                 host: str = "127.0.0.1", port: int = 0, console: WsgiApp | None = None,
                 ssl_context: ssl.SSLContext | None = None) -> None:
        self._app = status_app(metrics, health=health, ready=ready, console=console)
        self._ssl = ssl_context
        self._host = host
        self._requested_port = port
        self._server: WSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The port actually bound (useful with port 0)."""
        if self._server is None:
            raise RuntimeError("the status server is not running")
        return int(self._server.server_port)

    @property
    def url(self) -> str:
        """``http(s)://host:port`` of the running server."""
        return f"{'https' if self._ssl else 'http'}://{self._host}:{self.port}"

    def start(self) -> StatusServer:
        """Bind and serve on a background thread; returns ``self``.

        Raises ``ConfigError`` when the address cannot be bound (port taken, unknown host).
        """
        if self._server is not None:
            raise RuntimeError("the status server is already running")
        try:
            server = make_server(self._host, self._requested_port, self._app,
                                 server_class=_ThreadingServer, handler_class=_QuietHandler)
        except OSError as exc:
            raise ConfigError(
                f"the status endpoint cannot listen on {self._host}:{self._requested_port}: {exc}",
                hint="choose another host or port for the metrics endpoint in the settings, "
                "or stop the process that holds the port",
            ) from exc
        if self._ssl is not None:
            server.socket = self._ssl.wrap_socket(server.socket, server_side=True)
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="status-server", daemon=True)
        self._thread.start()
        log.info("status endpoint listening on %s", self.url)
        return self

    def stop(self) -> None:
        """Stop serving, close the socket and wait for the thread."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join()
        self._server, self._thread = None, None

    def __enter__(self) -> StatusServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def status_app(metrics: Metrics, *, health: Probe = always_ok, ready: Probe = always_ok,
               console: WsgiApp | None = None) -> WsgiApp:
    """Return the WSGI application behind ``StatusServer`` (also mountable in another WSGI server)."""
    metrics_app = make_wsgi_app(metrics.registry)
    probes = {"/healthz": health, "/readyz": ready}

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "") or "/"
        if console is not None and path != "/metrics" and path not in probes:
            return console(environ, start_response)
        if environ.get("REQUEST_METHOD", "GET") not in ("GET", "HEAD"):
            return _respond(start_response, "405 Method Not Allowed", {"error": "use GET"})
        if path == "/metrics":
            return metrics_app(environ, start_response)  # type: ignore[no-any-return]
        if path in probes:
            return _probe(start_response, probes[path])
        return _respond(start_response, "404 Not Found", {"error": "try /metrics, /healthz or /readyz"})

    return app


def _probe(start_response: StartResponse, probe: Probe) -> list[bytes]:
    try:
        result = probe()
    except Exception as exc:  # A failing probe is an answer ("unavailable"), not a server crash.
        result = ProbeResult(False, f"the probe failed: {type(exc).__name__}: {exc}")
    status = ("degraded" if result.degraded else "ok") if result.ok else "unavailable"
    body = {"status": status, "detail": result.detail,
            "checks": dict(result.checks)}
    return _respond(start_response, "200 OK" if result.ok else "503 Service Unavailable", body)


def _respond(start_response: StartResponse, status: str, body: Mapping[str, object]) -> list[bytes]:
    payload = json.dumps(body, sort_keys=True).encode("utf-8")
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(payload))),
                            ("Cache-Control", "no-store")])
    return [payload]


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    """One thread per request, so a slow scrape never holds up a probe."""

    daemon_threads = True
    allow_reuse_address = True


class _QuietHandler(WSGIRequestHandler):
    """Sends request lines to the debug log instead of stderr (probes arrive every few seconds)."""

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("status endpoint: " + format, *args)

"""The HTTP(S) server: TLS per connection, HTTP/1.1 keep-alive, one thread per connection, routing.

Routes (paths case-insensitive): ``/EWS/Exchange.asmx`` (EWS), ``/autodiscover/autodiscover.svc``
(SOAP), ``/autodiscover/autodiscover.xml`` (POX), ``.../oauth2[/v2.0]/token`` (OAuth token endpoint),
``/{tenant}/v2.0/.well-known/openid-configuration`` (discovery, for MSAL), ``/v1.0/...`` (Microsoft
Graph, router/simulator/graph) and ``/_control/...`` (the JSON control API). TLS handshakes run in the
connection's thread, so a slow client never blocks the accept loop; TCP_NODELAY avoids delayed-ACK
stalls on small responses.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import select
import socket
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from router.simulator.auth import ConnectionAuth
from router.simulator.dispatch import Reply, sleep_for
from router.simulator.graph.tokens import openid_configuration
from router.simulator.simulator import Simulator

log = logging.getLogger(__name__)
TOKEN_PATH = re.compile(r"/oauth2(/v2\.0)?/token$")
OPENID_PATH = re.compile(r"^/([^/]+)/v2\.0/\.well-known/openid-configuration$")


class SimulatorHTTPServer(ThreadingHTTPServer):
    """A threading HTTP server that wraps each accepted connection in TLS inside its own thread."""

    daemon_threads = True
    block_on_close = False
    request_queue_size = 64

    def __init__(self, address: tuple[str, int], simulator: Simulator, tls: ssl.SSLContext | None) -> None:
        self.simulator = simulator
        self.tls = tls
        super().__init__(address, Handler)

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, addr = self.socket.accept()
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock, addr

    def finish_request(self, request: Any, client_address: Any) -> None:
        if self.tls is not None:
            try:
                request = self.tls.wrap_socket(request, server_side=True)
            except (ssl.SSLError, OSError) as exc:
                log.debug("TLS handshake with %s failed: %s", client_address, exc)
                request.close()
                return
        try:
            self.RequestHandlerClass(request, client_address, self)  # type: ignore[arg-type]
        finally:
            if self.tls is not None:
                request.close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("connection from %s ended with an error", client_address, exc_info=True)


class Handler(BaseHTTPRequestHandler):
    """One connection; keeps the NTLM state of the connection between requests."""

    protocol_version = "HTTP/1.1"
    server_version = "Microsoft-IIS/10.0"
    sys_version = ""
    server: SimulatorHTTPServer

    def setup(self) -> None:
        super().setup()
        self.conn_auth = ConnectionAuth()

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)

    def _body(self) -> bytes | None:
        length = int(self.headers.get("Content-Length") or 0)
        limit = self.server.simulator.config.max_request_bytes
        if length > limit:
            remaining = length
            while remaining > 0:
                chunk = self.rfile.read(min(remaining, 1 << 20))
                if not chunk:
                    break
                remaining -= len(chunk)
            return None
        return self.rfile.read(length) if length else b""

    def _graph(self, method: str) -> bool:
        """Serve a Microsoft Graph request (``/v1.0/...``); False when the path is not Graph's."""
        if not self.path.lower().startswith("/v1.0/"):
            return False
        body = self._body() if method in ("POST", "PATCH") else b""
        scheme = "https" if self.server.tls is not None else "http"
        base = f"{scheme}://{self.headers.get('Host', 'localhost')}"
        headers = {k.lower(): v for k, v in self.headers.items()}
        graph = self.server.simulator.graph
        self._send(graph.handle(method, self.path, headers, body or b"", base))
        return True

    def _openid(self) -> bool:
        found = OPENID_PATH.match(self.path.split("?", 1)[0])
        if found is None:
            return False
        scheme = "https" if self.server.tls is not None else "http"
        base = f"{scheme}://{self.headers.get('Host', 'localhost')}"
        self._json(200, openid_configuration(base, found.group(1)))
        return True

    def do_PATCH(self) -> None:
        if not self._graph("PATCH"):
            self._send(Reply(405, [("Content-Type", "text/plain")], b"Method Not Allowed"))

    def do_POST(self) -> None:
        if self._graph("POST"):
            return
        body = self._body()
        sim = self.server.simulator
        path = self.path.split("?", 1)[0].lower()
        if path.startswith("/_control/"):
            self._control("POST", body or b"")
        elif path == "/ews/exchange.asmx":
            reply = (
                sim.endpoint.too_large()
                if body is None
                else sim.endpoint.handle(
                    body,
                    self.headers.get("Authorization"),
                    self.headers.get("X-AnchorMailbox"),
                    self.conn_auth,
                )
            )
            self._send(self._through_proxy(reply))
        elif path in ("/autodiscover/autodiscover.svc", "/autodiscover/autodiscover.xml"):
            self._autodiscover(path, body or b"")
        elif TOKEN_PATH.search(path):
            status, data = sim.tokens.grant(body or b"")
            self._json(status, data)
        else:
            self._send(Reply(404, [("Content-Type", "text/plain")], b"Not Found"))

    def do_GET(self) -> None:
        if self._graph("GET") or self._openid():
            return
        path = self.path.split("?", 1)[0].lower()
        if path.startswith("/_control/"):
            self._control("GET", b"")
        elif path in (
            "/ews/exchange.asmx",
            "/autodiscover/autodiscover.svc",
            "/autodiscover/autodiscover.xml",
        ):
            result = self.server.simulator.auth.authenticate(
                self.headers.get("Authorization"), self.conn_auth
            )
            if result.principal is None:
                self._send(Reply(401, result.headers))
            else:
                self._send(
                    Reply(
                        200,
                        [("Content-Type", "text/html")],
                        b"<html><body>Exchange Web Services</body></html>",
                    )
                )
        else:
            self._send(Reply(404, [("Content-Type", "text/plain")], b"Not Found"))

    def do_DELETE(self) -> None:
        if self._graph("DELETE"):
            return
        body = self._body()
        if self.path.lower().startswith("/_control/"):
            self._control("DELETE", body or b"")
        else:
            self._send(Reply(405, [("Content-Type", "text/plain")], b"Method Not Allowed"))

    def _autodiscover(self, path: str, body: bytes) -> None:
        sim = self.server.simulator
        result = sim.auth.authenticate(self.headers.get("Authorization"), self.conn_auth)
        if result.principal is None:
            self._send(Reply(401, result.headers))
            return
        status, data = sim.autodiscover.soap(body) if path.endswith(".svc") else sim.autodiscover.pox(body)
        self._send(Reply(status, [("Content-Type", "text/xml; charset=utf-8")], data))

    def _control(self, method: str, body: bytes) -> None:
        token = self.server.simulator.config.control_token
        if token and self.headers.get("Authorization", "") != f"Bearer {token}":
            self._json(
                401,
                {
                    "error": "the control API needs the simulator's control token",
                    "hint": "the CLI reads it from the simulator's state directory",
                },
            )
            return
        status, data = self.server.simulator.control_http.handle(method, self.path, body)
        self._json(status, data)

    def _through_proxy(self, reply: Reply) -> Reply:
        """Replace an EWS response above the configured proxy limit with the proxy's 502."""
        limit = self.server.simulator.config.max_response_bytes
        if limit is None or reply.stream is not None or len(reply.body) <= limit:
            return reply
        text = f"502 Bad Gateway: the response ({len(reply.body)} bytes) exceeds the proxy's {limit}".encode()
        return Reply(502, [("Content-Type", "text/plain")], text)

    def _json(self, status: int, data: object) -> None:
        self._send(
            Reply(status, [("Content-Type", "application/json")], json.dumps(data, default=str).encode())
        )

    def _send(self, reply: Reply) -> None:
        sleep_for(reply)
        if reply.drop:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.send_response(reply.status)
        for name, value in reply.headers:
            self.send_header(name, value)
        if reply.stream is not None:
            self._stream(reply)
            return
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        self.wfile.write(reply.body)

    def _stream(self, reply: Reply) -> None:
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        assert reply.stream is not None
        done = threading.Event()
        if reply.gone is not None:
            threading.Thread(target=_watch_peer, args=(self.connection, reply.gone, done), daemon=True,
                             name="ews-stream-peer").start()
        try:
            for chunk in reply.stream:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            self.wfile.write(b"0\r\n\r\n")
        except OSError:
            self.close_connection = True
        finally:
            done.set()


def _watch_peer(connection: socket.socket, gone: threading.Event, done: threading.Event) -> None:
    """Set ``gone`` when the client of a streamed reply closes its connection (it sends nothing else
    while it reads the stream, so readable means closed), as IIS notices a client that went away: the
    stream then ends and stops counting against the account's streaming connections."""
    while not done.is_set():
        try:
            readable, _, _ = select.select([connection], [], [], 0.25)
        except (OSError, ValueError):
            break
        if readable:
            gone.set()
            return


def serve_in_thread(server: SimulatorHTTPServer) -> threading.Thread:
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.1}, name="ews-simulator", daemon=True
    )
    thread.start()
    return thread

"""Hostile HTTP(S) servers on 127.0.0.1 for tests: they trickle, flood, bomb or loop, on purpose.

``HostileServer(behaviour, tls=...)`` runs a threaded ``http.server`` whose every request is answered
by ``behaviour(handler)``; the behaviours below are the misbehaving servers of issue #14. Each counts
what it sent (``server.sent``) so a test can show the client stopped reading early. ``stop()`` makes
every behaviour that is still sending give up, then closes the server.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from router.simulator.tls import TlsFiles, ensure_certificates

Behaviour = Callable[["_Handler"], None]


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        self.server.owner.answer(self)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.body = self.rfile.read(length)
        self.server.owner.answer(self)

    def send_bytes(self, data: bytes) -> bool:
        """Write ``data``; False once the client has gone away or the server is stopping."""
        if self.server.owner.stopping.is_set():
            return False
        try:
            self.wfile.write(data)
            self.wfile.flush()
        except OSError:
            return False
        self.server.owner.count(len(data))
        return True


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: HostileServer


class HostileServer:
    """A local HTTP(S) server answering every request with ``behaviour``."""

    def __init__(self, behaviour: Behaviour, *, tls_dir: Path | None = None) -> None:
        self.behaviour = behaviour
        self.stopping = threading.Event()
        self.sent = 0
        self.requests: list[str] = []
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.owner = self
        self.tls: TlsFiles | None = None
        if tls_dir is not None:
            self.tls = ensure_certificates(tls_dir, ["127.0.0.1", "localhost"])
            self._server.socket = self.tls.context().wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(target=self._server.serve_forever, name="hostile-server", daemon=True)

    @property
    def url(self) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://127.0.0.1:{self._server.server_address[1]}"

    def answer(self, handler: _Handler) -> None:
        with self._lock:
            self.requests.append(handler.path)
        self.behaviour(handler)

    def count(self, size: int) -> None:
        with self._lock:
            self.sent += size

    def __enter__(self) -> HostileServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def stop(self) -> None:
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)


def trickle(interval: float = 2.0, *, status: int = 200, length: int = 4096) -> Behaviour:
    """Headers at once, then the body one byte every ``interval`` seconds (never tripping a read timeout)."""
    def behave(handler: _Handler) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", "text/xml; charset=utf-8")
        handler.send_header("Content-Length", str(length))
        handler.end_headers()
        for _ in range(length):
            if not handler.send_bytes(b" ") or handler.server.owner.stopping.wait(interval):
                return
    return behave


def flood(total: int, *, status: int = 500, declare_length: bool = False,
          content_type: str = "text/xml; charset=utf-8") -> Behaviour:
    """An answer of ``total`` bytes (an endless error text) in 64 KiB writes; Content-Length optional."""
    def behave(handler: _Handler) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        if declare_length:
            handler.send_header("Content-Length", str(total))
        else:
            handler.send_header("Connection", "close")
        handler.end_headers()
        block = b"<error>" + b"A" * (64 * 1024 - 16) + b"</error>\n"
        sent = 0
        while sent < total and handler.send_bytes(block):
            sent += len(block)
    return behave


def fixed(body: bytes, *, status: int = 200, content_type: str = "text/xml; charset=utf-8") -> Behaviour:
    """The same complete answer to every request."""
    def behave(handler: _Handler) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.send_bytes(body)
    return behave


def xml_bomb() -> bytes:
    """A SOAP answer whose entities would expand to gigabytes ("billion laughs")."""
    entities = ['<!ENTITY lol0 "lollollollollollollollollollol">']
    entities += [f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10}">' for i in range(1, 10)]
    return ('<?xml version="1.0" encoding="utf-8"?>\n<!DOCTYPE s:Envelope [' + "".join(entities) + "]>"
            '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><x>&lol9;</x>'
            "</s:Body></s:Envelope>").encode()


def nested_json(depth: int) -> bytes:
    """An OData answer nested ``depth`` levels deep: ``{"value":[{"a":{"a":...}}]}``."""
    return b'{"value":[' + b'{"a":' * depth + b"1" + b"}" * depth + b"]}"


def looping_next_link(base: Callable[[], str], path: str) -> Behaviour:
    """An OData collection whose every page links to itself: an endless ``@odata.nextLink``."""
    def behave(handler: _Handler) -> None:
        page = {"value": [{"n": len(handler.server.owner.requests)}], "@odata.nextLink": base() + path}
        fixed(json.dumps(page).encode(), content_type="application/json")(handler)
    return behave


def wait_for(check: Callable[[], bool], timeout: float = 30.0) -> bool:
    """Poll ``check`` until it is true or ``timeout`` passes; return its last value."""
    deadline = time.monotonic() + timeout
    while not check() and time.monotonic() < deadline:
        time.sleep(0.05)
    return check()

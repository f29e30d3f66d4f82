"""The deadline watchdog behind ``BoundedAdapter``: a late deadline never delays an earlier one."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests

from router.bounded_http import BoundedAdapter, Watchdog, _Watch, total_seconds
from tests.support.hostile import wait_for


def test_an_earlier_deadline_armed_later_still_fires_first() -> None:
    watchdog = Watchdog()
    late, early, finished = _Watch(time.monotonic() + 600), _Watch(time.monotonic() + 0.2), _Watch(0)
    finished.done = True
    watchdog.arm(late)
    watchdog.arm(finished)
    watchdog.arm(early)
    assert wait_for(lambda: early.expired, timeout=30)
    assert not late.expired and not finished.expired
    late.done = True


def test_the_total_deadline_is_connect_plus_read() -> None:
    assert total_seconds((10, 120)) == 130 and total_seconds(5) == 5
    assert total_seconds(None) is None and total_seconds((10, None)) is None


def test_closing_a_session_closes_its_pooled_connections_even_while_a_response_holds_the_pool() -> None:
    """urllib3 2 only forgets a closed session's pools: the adapter closes their sockets itself
    (a response kept alive, e.g. by a traceback, keeps its pool, so the socket is reported unclosed later)."""

    class Quiet(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        session = requests.Session()
        session.mount("http://", BoundedAdapter())
        kept = session.get(f"http://127.0.0.1:{server.server_address[1]}/", timeout=(5, 5))
        assert kept.content == b"ok"
        pool = kept.raw._pool
        sockets = [conn.router_sock for conn in list(pool.pool.queue) if conn is not None]
        assert sockets, "the connection went back to its pool (keep-alive)"
        session.close()
        assert all(sock.fileno() == -1 for sock in sockets), "a closed session left a socket open"
    finally:
        server.shutdown()
        server.server_close()

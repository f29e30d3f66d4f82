"""The state database gone for a while: a TCP relay in front of PostgreSQL that the soak can cut.

The instances reach the database through ``CuttableRelay``; ``cut`` resets every open connection and
refuses new ones (as a database restart or a network partition does), ``mend`` lets them through again.
The soak reads lane holders and alerts through the real address, so it sees the leases run out while
the instances cannot reach the database, and come back once they can.
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from datetime import UTC, datetime

from sqlalchemy.engine import URL

Lane = tuple[str, str]

CHUNK = 65536


class CuttableRelay:
    """Relays 127.0.0.1:``port`` to ``target``; ``cut`` and ``mend`` (see the module)."""

    def __init__(self, target: tuple[str, int] | str) -> None:
        self.target = target
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._cut = False
        self._closed = False
        self._thread = threading.Thread(target=self._accept, name="db-relay", daemon=True)
        self._thread.start()

    def cut(self) -> None:
        """Reset every relayed connection and refuse new ones until ``mend``."""
        with self._lock:
            self._cut = True
            sockets, self._open = list(self._open), set()
        for sock in sockets:
            _reset(sock)

    def mend(self) -> None:
        with self._lock:
            self._cut = False

    def close(self) -> None:
        self._closed = True
        self.cut()
        with suppress(OSError):
            self._listener.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                refused = self._cut
            if refused:
                _reset(client)
                continue
            try:
                server = _connect(self.target)
            except OSError:
                _reset(client)
                continue
            with self._lock:
                self._open.update((client, server))
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(CHUNK):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with self._lock:
                    self._open.discard(sock)
                _reset(sock)


def _connect(target: tuple[str, int] | str) -> socket.socket:
    """A TCP connection to (host, port), or a Unix socket connection to a path."""
    if isinstance(target, tuple):
        return socket.create_connection(target, timeout=5)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(target)
    return sock


def relay_target(url: URL) -> tuple[str, int] | str:
    """Where the server of ``url`` listens: its Unix socket when the URL names a socket directory."""
    port = url.port or 5432
    directory = url.query.get("host")
    if isinstance(directory, str) and directory.startswith("/"):
        return f"{directory}/.s.PGSQL.{port}"
    return (url.host or "127.0.0.1", port)


def relayed_url(url: URL, relay: CuttableRelay) -> str:
    """``url`` reaching its server through ``relay`` (over TCP on the loopback)."""
    return (url.difference_update_query(["host"]).set(host="127.0.0.1", port=relay.port)
            .render_as_string(hide_password=False))


def _reset(sock: socket.socket) -> None:
    with suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with suppress(OSError):
        # shutdown, not only close: another thread may be blocked reading the socket, and closing the
        # descriptor alone would neither wake it nor end the connection (the server would keep the session).
        sock.shutdown(socket.SHUT_RDWR)
    with suppress(OSError):
        sock.close()


class Outage:
    """Cuts the relay once, at ``at`` seconds into the feed, for ``seconds``; measures the pause and the
    resumption from the lane leases (read past the relay)."""

    def __init__(self, relay: CuttableRelay, holders: Callable[[], dict[Lane, tuple[str, str]]], lanes: int,
                 at: float, seconds: float, say: Callable[[str], None]) -> None:
        self.relay, self.holders, self.lanes = relay, holders, lanes
        self.at, self.seconds, self.say = at, seconds, say
        self.started = time.monotonic()
        self.cut_at: float | None = None
        self.cut_time: datetime | None = None
        """When the cut happened (for the delivery audit: a delivery the instances could not record then
        is delivered again once the database is back, like one a kill interrupted)."""
        self.mended_at: float | None = None
        self.paused_after: float | None = None
        """Seconds from the cut until no lane had a live lease (every instance stopped working)."""
        self.resumed_after: float | None = None
        """Seconds from the mend until every lane was held again."""

    @property
    def busy(self) -> bool:
        """True from the cut until the work has resumed."""
        return self.cut_at is not None and self.resumed_after is None

    @property
    def wants_turn(self) -> bool:
        """True while the outage is due or under way (until the work has resumed)."""
        return self.busy or (self.cut_at is None and time.monotonic() - self.started >= self.at)

    @property
    def done(self) -> bool:
        return self.resumed_after is not None

    def tick(self) -> None:
        now = time.monotonic()
        if self.cut_at is None:
            if now - self.started >= self.at:
                self.relay.cut()
                self.cut_at = now
                self.cut_time = datetime.now(UTC)
                self.say(f"the state database is unreachable for the instances for {self.seconds:g} s")
            return
        if self.mended_at is None:
            if self.paused_after is None and not self.holders():
                self.paused_after = now - self.cut_at
                self.say(f"every lane paused {self.paused_after:.1f} s after the database went away")
            if now - self.cut_at >= self.seconds:
                self.relay.mend()
                self.mended_at = now
                self.say("the state database is back")
            return
        if self.resumed_after is None and len(self.holders()) >= self.lanes:
            self.resumed_after = now - self.mended_at
            self.say(f"every lane held again {self.resumed_after:.1f} s after the database came back")

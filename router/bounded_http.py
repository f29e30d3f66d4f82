"""Bounded HTTP: a total deadline per request and a cap on the bytes read from the server.

requests' timeouts are per socket operation: a server that sends one byte every few seconds never
trips them, and a server may answer with gigabytes that are then held in memory, logged and stored.
``BoundedAdapter`` (a requests ``HTTPAdapter``, used for EWS, Autodiscover, OAuth and the Dynamics
Web API) bounds both for every request it sends:

* a total deadline: the request's ``(connect, read)`` timeouts summed. A process-wide watchdog thread
  shuts the connection's socket down when it passes, so a read blocked on a trickling server returns
  at once and ``DeadlineExceeded`` (a requests ``Timeout``) is raised;
* a size cap: unless the caller streams, the body is read inside the adapter, decoded, and at most
  ``limit_for(request)`` bytes of it; beyond, ``ResponseTooLarge`` is raised and the connection is
  dropped. A declared ``Content-Length`` beyond the cap is refused before anything is read.

A streamed response (EWS notifications, which legitimately stay open for minutes) is bounded up to
its headers only: its body belongs to the caller. The TLS handshake needs no watch: CPython bounds a
whole handshake by the socket's (connect) timeout, however slowly the server sends it.
"""

from __future__ import annotations

import heapq
import itertools
import socket
import threading
import time
from collections.abc import Mapping
from typing import Any

import requests
from requests import PreparedRequest, Response
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

CHUNK_SIZE = 64 * 1024
DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024 * 1024
"""The cap when nobody configured one: far above any sane answer, far below what hurts the host."""


TLS_VERSION_MARKERS = ("WRONG_VERSION_NUMBER", "UNSUPPORTED_PROTOCOL", "PROTOCOL_VERSION", "VERSION_TOO_LOW",
                       "VERSION_TOO_HIGH", "NO_PROTOCOLS_AVAILABLE", "no protocols available",
                       "UNKNOWN_PROTOCOL")
"""OpenSSL reasons that mean the protocol version failed (or the port speaks no TLS), not the certificate."""


def is_tls_version_failure(exc: BaseException) -> bool:
    """True when a TLS failure is about the protocol version, so the certificate must not be blamed."""
    return any(marker in str(exc) for marker in TLS_VERSION_MARKERS)


class DeadlineExceeded(requests.exceptions.ReadTimeout):
    """The whole request (connect, send, wait, read the body) took longer than its total deadline."""


class ResponseTooLarge(requests.exceptions.RequestException):
    """The server's answer is larger than the cap for this request; nothing of it was kept."""


class _Watch:
    """One request under watch: its connection (once known) and whether its deadline passed."""

    def __init__(self, at: float) -> None:
        self.at = at
        self.conn: Any = None
        self.expired = False
        self.done = False

    def fire(self) -> None:
        if self.done:
            return
        self.expired = True
        # http.client forgets ``conn.sock`` once the response owns the socket: use the one kept at connect.
        sock = getattr(self.conn, "sock", None) or getattr(self.conn, "router_sock", None)
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                return


class Watchdog:
    """One daemon thread that fires each watch whose deadline passed (cheaper than a timer per request)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, _Watch]] = []
        self._seq = itertools.count()
        self._thread: threading.Thread | None = None

    def arm(self, watch: _Watch) -> None:
        """Fire ``watch`` at its deadline unless it is done by then."""
        with self._cond:
            earliest = not self._heap or watch.at < self._heap[0][0]
            heapq.heappush(self._heap, (watch.at, next(self._seq), watch))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="http-deadline-watchdog", daemon=True)
                self._thread.start()
            # The thread sleeps until the earliest deadline; only a new earliest one must wake it. Requests
            # with the usual timeouts queue behind, so most requests cost no thread switch.
            if earliest:
                self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while self._heap and self._heap[0][2].done:
                    heapq.heappop(self._heap)
                wait = self._heap[0][0] - time.monotonic() if self._heap else None
                if wait is None or wait > 0:
                    self._cond.wait(wait)
                    continue
                watch = heapq.heappop(self._heap)[2]
            watch.fire()


PROCESS_WATCHDOG = Watchdog()
_current = threading.local()
"""The watch of the request this thread is sending: the pools below attach their connection to it."""


class _KeptHTTPConnection(HTTPConnection):
    def connect(self) -> None:
        super().connect()
        self.router_sock = self.sock


class _KeptHTTPSConnection(HTTPSConnection):
    def connect(self) -> None:
        super().connect()
        self.router_sock = self.sock


class _WatchedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _KeptHTTPConnection

    def _make_request(self, conn: Any, *args: Any, **kwargs: Any) -> Any:
        watch: _Watch | None = getattr(_current, "watch", None)
        if watch is not None:
            watch.conn = conn
        return super()._make_request(conn, *args, **kwargs)


class _WatchedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _KeptHTTPSConnection

    def _make_request(self, conn: Any, *args: Any, **kwargs: Any) -> Any:
        watch: _Watch | None = getattr(_current, "watch", None)
        if watch is not None:
            watch.conn = conn
        return super()._make_request(conn, *args, **kwargs)


def total_seconds(timeout: Any) -> float | None:
    """The total deadline of a requests ``timeout``: a (connect, read) pair summed, a number as it is."""
    if isinstance(timeout, tuple):
        parts = [t for t in timeout if t is not None]
        return float(sum(parts)) if len(parts) == len(timeout) else None
    return None if timeout is None else float(timeout)


class BoundedAdapter(HTTPAdapter):
    """An HTTP adapter with a total deadline per request and a response size cap (module docstring)."""

    watchdog: Watchdog = PROCESS_WATCHDOG
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}

    def close(self) -> None:
        """Close every pooled connection now (a closed session must leave no socket open).

        urllib3 2's ``PoolManager.clear()`` only forgets its pools; their connections are closed when
        a pool is garbage-collected. A pool outlives that while anything holds it (a response kept by
        an exception's traceback holds its pool), and a socket collected before its pool's finalizer
        runs is reported unclosed (ResourceWarning) at some unrelated later moment. A connection in
        use now is closed when it is given back to its closed pool."""
        pools = self.poolmanager.pools
        # RecentlyUsedContainer refuses iteration; ``keys()`` is its thread-safe snapshot.
        held = [pool for pool in (pools.get(key) for key in pools.keys()) if pool is not None]  # noqa: SIM118
        super().close()
        for pool in held:
            pool.close()

    def limit_for(self, request: PreparedRequest) -> int:
        """The most bytes of answer ``request`` may bring; subclasses refine it per operation."""
        return self.max_response_bytes

    def send(self, request: PreparedRequest, stream: bool = False,
             timeout: float | tuple[float, float] | tuple[float, None] | None = None,
             verify: bool | str = True, cert: bytes | str | tuple[bytes | str, bytes | str] | None = None,
             proxies: Mapping[str, str] | None = None) -> Response:
        total = total_seconds(timeout)
        if total is None:
            return self._send(request, stream, timeout, verify, cert, proxies)
        watch = _Watch(time.monotonic() + total)
        self.watchdog.arm(watch)
        _current.watch = watch
        try:
            return self._send(request, stream, timeout, verify, cert, proxies)
        except (requests.RequestException, OSError) as exc:
            if watch.expired and not isinstance(exc, ResponseTooLarge):
                raise DeadlineExceeded(f"no complete answer from {_where(request)} within the total deadline "
                                       f"of {total:g} s (connect + read timeouts)", request=request) from exc
            raise
        finally:
            watch.done = True
            watch.conn = None  # The watchdog keeps a done watch until its deadline: not its connection.
            _current.watch = None

    def _send(self, request: PreparedRequest, stream: bool, timeout: Any, verify: bool | str, cert: Any,
              proxies: Mapping[str, str] | None) -> Response:
        response = super().send(request, stream=stream, timeout=timeout, verify=verify, cert=cert,
                                proxies=proxies)
        if not stream:
            self._read_body(response, self.limit_for(request))
        return response

    def _read_body(self, response: Response, limit: int) -> None:
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > limit:
            response.close()
            raise _too_large(response, limit, f"it declares {int(declared)} bytes")
        if response.status_code == 401:
            # NTLM's response hook reads the server certificate off the unread 401 answer's socket
            # (channel binding); such a challenge is only checked against its declared length.
            return
        self._read_capped(response, limit)

    def _read_capped(self, response: Response, limit: int) -> None:
        chunks, size = [], 0
        for chunk in response.iter_content(CHUNK_SIZE):
            size += len(chunk)
            if size > limit:
                response.close()
                raise _too_large(response, limit, f"more than {limit} bytes were sent")
            chunks.append(chunk)
        response._content = b"".join(chunks)


def _where(request: PreparedRequest) -> str:
    return (request.url or "the server").split("?", 1)[0]


def _too_large(response: Response, limit: int, detail: str) -> ResponseTooLarge:
    return ResponseTooLarge(
        f"the answer from {_where(response.request)} exceeds the {limit // (1024 * 1024) or limit} "
        f"{'MiB' if limit >= 1024 * 1024 else 'bytes'} cap ({detail}); it was discarded",
        response=response, request=response.request)

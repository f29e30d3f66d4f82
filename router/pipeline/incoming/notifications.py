"""Low latency: EWS streaming notifications that wake a mailbox's lane as soon as mail arrives.

The lane's periodic SyncFolderItems sweep is the guarantee that nothing is missed; notifications only
make it run sooner than its idle back-off (up to 15 minutes for a quiet mailbox) would. So a
notification carries no data the lane relies on: it calls ``wake(LaneKey)``, and the lane's next run
finds the mail through SyncFolderItems as always. A dropped stream loses nothing; once it is back,
the hub wakes the lane once more to catch up on whatever arrived while it was down.

``NotificationHub`` runs one background thread per watched mailbox, each holding one streaming
subscription on the lane's folder (NewMailEvent and CreatedEvent) and one long-lived
GetStreamingEvents connection, renewed every ``minutes``. Threads are bounded: at most ``limit``
mailboxes are watched at once, and at most half of a connection pool's ``max_connections`` (a
stream holds its connection the whole time; the lanes sharing the pool need the rest). Mailboxes
beyond the bounds are served by the sweep alone. A failing stream retries with exponential back-off.
``close`` ends every stream (it closes the open responses) and joins the threads.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from exchangelib.properties import CreatedEvent, NewMailEvent
from exchangelib.services import GetStreamingEvents

from router.ews import AccountFactory, ConnectionSpec, ews_errors
from router.pipeline.incoming.session import MailboxSession
from router.runtime.lane import LaneKey

log = logging.getLogger(__name__)

EVENT_TYPES = ("NewMailEvent", "CreatedEvent")
RETRY_BASE_SECONDS = 5.0
RETRY_MAX_SECONDS = 300.0
JOIN_SECONDS = 5.0


@dataclass(frozen=True)
class Watch:
    """What to watch for one lane: its mailbox's connection, folder, and the stream's renewal period."""

    key: LaneKey
    spec: ConnectionSpec
    folder: str
    minutes: int

    @property
    def pool(self) -> tuple[str, str]:
        """The connection pool the stream draws from: endpoint and login (exchangelib's pool key)."""
        login = self.spec.username or self.spec.oauth_client_id or ""
        where = self.spec.ews_url or f"autodiscover:{self.spec.domain}"
        return where.lower(), login.lower() + (f"/{self.spec.mailbox}" if self.spec.oauth_client_id else "")


class NotificationHub:
    """Streams of the watched mailboxes; see the module docstring. Thread-safe."""

    def __init__(self, accounts: AccountFactory, wake: Callable[[LaneKey], bool], *,
                 retry_base: float = RETRY_BASE_SECONDS, retry_max: float = RETRY_MAX_SECONDS) -> None:
        self._accounts = accounts
        self._wake = wake
        self._retry = (retry_base, retry_max)
        self._streams: dict[LaneKey, _Stream] = {}
        self._lock = threading.Lock()
        self._closed = False

    def watch(self, watch: Watch, limit: int, owner: object = None) -> bool:
        """Watch ``watch.key`` unless a bound is reached (or it is watched already); True if watched.

        ``owner`` (the lane's work) is who may ``unwatch`` the stream: a rebuilt lane's new work takes
        the stream over, and the old work, closed afterwards, cannot end it.
        """
        with self._lock:
            current = self._streams.get(watch.key)
            if current is not None and current.watch == watch and current.is_alive():
                current.owner = owner
                return True
            if current is not None:
                current.stop()
            if self._closed or not self._room(watch, limit):
                self._streams.pop(watch.key, None)
                return False
            stream = _Stream(watch, self._accounts, self._wake, self._retry)
            stream.owner = owner
            self._streams[watch.key] = stream
        stream.start()
        log.debug("watching %s with streaming notifications", watch.key)
        return True

    def _room(self, watch: Watch, limit: int) -> bool:
        others = [s for k, s in self._streams.items() if k != watch.key]
        same_pool = sum(1 for s in others if s.watch.pool == watch.pool)
        return len(others) < limit and same_pool < watch.spec.max_connections // 2

    def unwatch(self, key: LaneKey, owner: object = None) -> None:
        """Stop watching ``key`` (its lane was removed), unless another ``owner`` took the stream over."""
        with self._lock:
            stream = self._streams.get(key)
            if stream is None or stream.owner is not owner:
                return
            del self._streams[key]
        stream.stop()

    def streaming(self, key: LaneKey) -> bool:
        """True while ``key``'s stream holds a subscription (a notification would wake its lane)."""
        with self._lock:
            stream = self._streams.get(key)
        return stream is not None and stream.is_alive() and stream.subscribed

    def watching(self) -> frozenset[LaneKey]:
        """The lanes watched now."""
        with self._lock:
            return frozenset(k for k, s in self._streams.items() if s.is_alive())

    def close(self) -> None:
        """End every stream and wait (briefly) for the threads; no new stream starts afterwards."""
        with self._lock:
            self._closed = True
            streams, self._streams = list(self._streams.values()), {}
        for stream in streams:
            stream.stop()
        for stream in streams:
            stream.join(JOIN_SECONDS)
            if stream.is_alive():
                log.warning("the notification stream of %s did not end within %.0f s", stream.watch.key,
                            JOIN_SECONDS)


class _Stream(threading.Thread):
    """One mailbox's subscription and streaming connection, renewed until stopped."""

    def __init__(self, watch: Watch, accounts: AccountFactory, wake: Callable[[LaneKey], bool],
                 retry: tuple[float, float]) -> None:
        super().__init__(name=f"notify-{watch.key}", daemon=True)
        self.watch = watch
        self._accounts = accounts
        self._wake = wake
        self._retry = retry
        self.owner: object = None
        self.subscribed = False
        self._stopping = threading.Event()
        self._service: GetStreamingEvents | None = None
        self._service_lock = threading.Lock()

    def stop(self) -> None:
        """Ask the thread to end, closing its open streaming response so that it ends now."""
        self._stopping.set()
        with self._service_lock:
            service = self._service
        if service is not None:
            # exchangelib's stop_streaming() closes the response, which can block while this stream's
            # thread is reading the same TLS socket; closing it from a helper thread and waiting a bounded
            # time keeps stop() (and so the service's shutdown) from hanging on a quiet stream.
            closer = threading.Thread(target=self._close_quietly, args=(service,), name=f"{self.name}-close",
                                      daemon=True)
            closer.start()
            closer.join(JOIN_SECONDS)

    def _close_quietly(self, service: GetStreamingEvents) -> None:
        try:
            service.stop_streaming()
        except Exception:  # The response may be closing already; the thread ends either way.
            log.debug("closing the stream of %s", self.watch.key, exc_info=True)

    def run(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            try:
                self._subscribe_and_stream()
                failures = 0
            except Exception as exc:  # A stream must survive anything the server or network does.
                self.subscribed = False
                if self._stopping.is_set():
                    break
                failures += 1
                wait = min(self._retry[1], self._retry[0] * 2 ** min(failures - 1, 16))
                log.warning("notifications of %s failed (%s); retrying in %.0f s, polling meanwhile",
                            self.watch.key, exc, wait)
                self._stopping.wait(wait)

    def _subscribe_and_stream(self) -> None:
        session = MailboxSession(self._accounts, self.watch.spec)
        folder = session.folder(self.watch.folder)
        with ews_errors(mailbox=session.mailbox):
            subscription = folder.subscribe_to_streaming(event_types=list(EVENT_TYPES))
        self.subscribed = True
        try:
            # Mail that arrived while no subscription existed is found by the run this wake starts.
            self._wake(self.watch.key)
            while not self._stopping.is_set():
                self._stream_once(session, subscription)
        finally:
            self.subscribed = False
            self._unsubscribe(session, folder, subscription)

    def _stream_once(self, session: MailboxSession, subscription: str) -> None:
        service = GetStreamingEvents(account=session.account)
        with self._service_lock:
            self._service = service
        try:
            with ews_errors(mailbox=session.mailbox):
                for notification in service.call(subscription_ids=[subscription],
                                                 connection_timeout=self.watch.minutes):
                    if any(isinstance(e, NewMailEvent | CreatedEvent) for e in notification.events):
                        self._wake(self.watch.key)
                    if self._stopping.is_set():
                        break
        finally:
            with self._service_lock:
                self._service = None
            service.stop_streaming()

    def _unsubscribe(self, session: MailboxSession, folder: object, subscription: str) -> None:
        try:
            with ews_errors(mailbox=session.mailbox):
                folder.unsubscribe(subscription)  # type: ignore[attr-defined]
        except Exception:  # Subscriptions expire on the server anyway; nothing is lost if this fails.
            log.debug("unsubscribing %s failed", self.watch.key, exc_info=True)

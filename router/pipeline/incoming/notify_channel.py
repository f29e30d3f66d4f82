"""One streaming connection: the subscriptions of up to 200 mailboxes on one GetStreamingEvents.

A mailbox's subscription is made by its lane's worker (``subscribe_now``, one Subscribe on the lane's
own session, before the lane synchronises, so nothing falls between the two), which spreads the
subscriptions of thousands of mailboxes over the lanes' workers. A ``Channel`` is a thread that, in a
loop, (1) settles its membership: unsubscribes the mailboxes that left and subscribes those given
without a session and those whose subscription broke, waking each one's lane to catch up; then (2)
opens one GetStreamingEvents
carrying every subscription id, on a protocol of its own (``router.ews.streaming``), and wakes the lane
of each subscription a NewMailEvent or CreatedEvent names, until the connection times out (it is then
renewed) or the membership changes (the open read is interrupted after ``REJOIN_SECONDS``, so a burst
of joins costs one reconnection).

Failures stay as small as they can: a mailbox whose Subscribe fails retries alone with back-off and is
polled meanwhile; a subscription the server names in ``ErrorSubscriptionIds`` (expired, removed) is
dropped and made again while the others stream on; any other failure of the connection (network,
ErrorExceededConnectionCount) backs off this connection only. The server queues a subscription's
events while no connection is open, so a reconnection loses nothing.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from exchangelib.folders import FolderCollection
from exchangelib.properties import CreatedEvent, NewMailEvent

from router.ews import AccountFactory, ews_errors
from router.ews.streaming import StreamingCall, own_protocol
from router.pipeline.incoming.session import MailboxSession
from router.pipeline.incoming.watch import Watch
from router.runtime.lane import LaneKey

log = logging.getLogger(__name__)

EVENT_TYPES = ("NewMailEvent", "CreatedEvent")
REJOIN_SECONDS = 1.0
"""How long a membership change waits before the open connection is re-made (joins arrive in bursts)."""
CLOSE_SECONDS = 2.0
DRAIN_SECONDS = 2.0
"""How long a drained connection may take to end with Closed before its read is cut."""
SUBSCRIPTION_CODES = frozenset({"ErrorSubscriptionNotFound", "ErrorInvalidSubscription",
                                "ErrorSubscriptionAccessDenied", "ErrorSubscriptionUnsubscribed"})


@dataclass
class _Member:
    """One mailbox of the channel and its subscription (``sid`` None: to be made)."""

    watch: Watch
    sid: str | None = None
    session: MailboxSession | None = None
    folder: Any = None
    failures: int = 0
    retry_at: float = 0.0
    busy: bool = False
    """Someone (the lane's worker or the channel) is making its subscription now."""


class Channel(threading.Thread):
    """One GetStreamingEvents connection shared by the subscriptions of many mailboxes."""

    def __init__(self, name: str, minutes: int, accounts: AccountFactory, wake: Callable[[LaneKey], bool],
                 retry: tuple[float, float]) -> None:
        super().__init__(name=f"notify-{name}", daemon=True)
        self.minutes = minutes
        self._accounts = accounts
        self._wake = wake
        self._retry = retry
        self._members: dict[LaneKey, _Member] = {}
        self._leaving: list[_Member] = []
        self._lock = threading.Lock()
        self._changed = threading.Event()
        self._stopping = threading.Event()
        self._call: StreamingCall | None = None
        self._call_streams: dict[str, LaneKey] = {}
        """The subscriptions ``_call`` carries (their lanes catch up if it has to be cut)."""
        self._protocol: Any = None
        self._poke: threading.Timer | None = None
        self.failures = 0

    # Called by the hub -------------------------------------------------------------------------

    def add(self, watch: Watch, session: MailboxSession | None = None) -> None:
        """Take ``watch``'s mailbox in. With its lane's ``session``, the caller makes the subscription
        next (``subscribe_now``); without, this thread makes it before the next connection."""
        with self._lock:
            self._members[watch.key] = _Member(watch, session=session, busy=session is not None)
        if session is None:
            self._rejoin()

    def subscribe_now(self, key: LaneKey, session: MailboxSession) -> None:
        """Make ``key``'s subscription in the calling thread if it has none and is due (failures are
        kept: the mailbox retries later with back-off)."""
        with self._lock:
            member = self._members.get(key)
            if member is None or member.sid is not None or member.retry_at > time.monotonic():
                if member is not None and member.session is session:
                    member.busy = False
                return
            if member.busy and member.session is not session:
                return
            member.busy, member.session = True, session
        if self._subscribe(member, wake=False):
            self._rejoin()

    def remove(self, key: LaneKey) -> None:
        """Let ``key``'s mailbox go; it is unsubscribed when the connection is next re-made."""
        with self._lock:
            member = self._members.pop(key, None)
            if member is not None and member.sid is not None:
                self._leaving.append(member)

    def size(self) -> int:
        with self._lock:
            return len(self._members)

    def subscribed(self, key: LaneKey) -> bool:
        """True while ``key`` has a subscription here (its events reach this connection)."""
        with self._lock:
            member = self._members.get(key)
        return member is not None and member.sid is not None and self.is_alive()

    def stop(self) -> None:
        """End the thread: interrupt the open connection; subscriptions are given back on the way out."""
        self._stopping.set()
        self._changed.set()
        self._interrupt()

    # The thread --------------------------------------------------------------------------------

    def run(self) -> None:
        try:
            while not self._stopping.is_set():
                self._changed.clear()
                self._settle()
                streams = self._streams()
                if not streams:
                    self._changed.wait(self._next_retry())
                    continue
                self._connect(streams)
        finally:
            self._close()

    def _connect(self, streams: dict[str, LaneKey]) -> None:
        """One connection, its failure handled: back off unless it was interrupted on purpose."""
        call: StreamingCall | None = None
        try:
            call = self._open_call()
            self._stream(call, streams)
            self.failures = 0
        except Exception as exc:  # A connection must survive anything the server or network does.
            if self._stopping.is_set() or self._changed.is_set():
                return
            if call is not None and self._drop_named(call, exc, streams):
                return
            self.failures += 1
            wait = min(self._retry[1], self._retry[0] * 2 ** min(self.failures - 1, 16))
            log.warning("streaming notifications of %d mailboxes failed (%s); retrying in %.0f s, polling "
                        "meanwhile", len(streams), exc, wait)
            self._drop_protocol()
            self._stopping.wait(wait)

    def _open_call(self) -> StreamingCall:
        with self._lock:
            anchor = next((m.session for m in self._members.values() if m.sid and m.session), None)
        if anchor is None:
            raise RuntimeError("no subscribed mailbox to connect as")
        if self._protocol is None:
            self._protocol = own_protocol(anchor.account)
        return StreamingCall(anchor.account, self._protocol)

    def _stream(self, call: StreamingCall, streams: dict[str, LaneKey]) -> None:
        with self._lock:
            self._call, self._call_streams = call, dict(streams)
        try:
            if self._changed.is_set():
                return  # Joined while connecting: settle first.
            for notification in call.call(subscription_ids=list(streams), connection_timeout=self.minutes):
                key = streams.get(notification.subscription_id)
                if key is not None and any(isinstance(e, NewMailEvent | CreatedEvent)
                                           for e in notification.events):
                    self._wake(key)
                if self._stopping.is_set():
                    return
        finally:
            with self._lock:
                self._call, self._call_streams = None, {}
            call.stop_streaming()

    def _drop_named(self, call: StreamingCall, exc: Exception, streams: dict[str, LaneKey]) -> bool:
        """Forget the subscriptions the server refused (all, if it named none); True if any was."""
        if type(exc).__name__ not in SUBSCRIPTION_CODES:
            return False
        named = set(call.error_ids) or set(streams)
        with self._lock:
            dropped = [m for m in self._members.values() if m.sid in named]
            for member in dropped:
                member.sid = None
        log.info("%d streaming subscriptions ended on the server (%s); making them again", len(dropped),
                 type(exc).__name__)
        return bool(dropped)

    # Membership --------------------------------------------------------------------------------

    def _settle(self) -> None:
        """Unsubscribe the mailboxes that left; subscribe those due (each alone, failures kept apart)."""
        with self._lock:
            leaving, self._leaving = self._leaving, []
            due = [m for m in self._members.values()
                   if m.sid is None and not m.busy and m.retry_at <= time.monotonic()]
            for member in due:
                member.busy = True
        for member in leaving:
            self._unsubscribe(member)
        for member in due:
            if self._stopping.is_set():
                return
            self._subscribe(member, wake=True)

    def _subscribe(self, member: _Member, *, wake: bool) -> bool:
        """Make ``member``'s subscription (``busy`` is set); ``wake`` its lane to catch up afterwards."""
        watch = member.watch
        try:
            session = member.session or MailboxSession(self._accounts, watch.spec)
            # A well-known folder (the Inbox) is named by its distinguished id, as the sync names it:
            # no GetFolder per mailbox before its Subscribe. exchangelib's ``Folder.subscribe_to_streaming``
            # wants a folder id, so the folder collection makes the call.
            folder = session.sync_folder(watch.folder)
            with ews_errors(mailbox=session.mailbox):
                sid = FolderCollection(account=session.account, folders=[folder]).subscribe_to_streaming(
                    event_types=list(EVENT_TYPES))
        except Exception as exc:  # This mailbox alone waits; it is polled meanwhile.
            with self._lock:
                member.failures += 1
                wait = min(self._retry[1], self._retry[0] * 2 ** min(member.failures - 1, 16))
                member.retry_at, member.busy = time.monotonic() + wait, False
            log.warning("notifications of %s failed (%s); retrying in %.0f s, polling meanwhile", watch.key,
                        exc, wait)
            return False
        with self._lock:
            current = self._members.get(watch.key)
            if current is not member:  # It left while subscribing.
                self._leaving.append(_Member(watch, sid, session, folder))
                return False
            member.sid, member.session, member.folder = sid, session, folder
            member.failures, member.busy = 0, False
        if wake:
            # Mail that arrived while no subscription existed is found by the run this wake starts.
            self._wake(watch.key)
        return True

    def _unsubscribe(self, member: _Member) -> None:
        try:
            with ews_errors(mailbox=member.watch.spec.mailbox):
                member.folder.unsubscribe(member.sid)
        except Exception:  # Subscriptions expire on the server anyway; nothing is lost if this fails.
            log.debug("unsubscribing %s failed", member.watch.key, exc_info=True)

    def _streams(self) -> dict[str, LaneKey]:
        with self._lock:
            return {m.sid: key for key, m in self._members.items() if m.sid is not None}

    def _next_retry(self) -> float | None:
        with self._lock:
            waits = [m.retry_at for m in self._members.values() if m.sid is None]
        return max(0.0, min(waits) - time.monotonic()) if waits else None

    def _rejoin(self) -> None:
        """Re-make the open connection soon, so that it carries the new membership."""
        self._changed.set()
        with self._lock:
            if self._poke is not None and self._poke.is_alive():
                return
            self._poke = threading.Timer(REJOIN_SECONDS, self._interrupt_if_changed)
            self._poke.daemon = True
            self._poke.start()

    def _interrupt_if_changed(self) -> None:
        """The delayed rejoin: a connection opened after the change already carries it. The connection
        is drained (the server ends it with Closed, every event written before is read): an event the
        server wrote is not sent again, so cutting the read short would lose it. A server that does not
        end the stream within ``DRAIN_SECONDS`` has it cut."""
        if not self._changed.is_set():
            return
        with self._lock:
            call = self._call
        if call is None:
            return
        call.interrupt(drain=True)
        cut = threading.Timer(DRAIN_SECONDS, self._cut, args=(call,))
        cut.daemon = True
        cut.start()

    def _cut(self, call: StreamingCall) -> None:
        """Cut a drained connection the server did not end. Notifications it wrote and we had not read
        yet are lost with the read (the server takes a written event as delivered), so every mailbox the
        connection carried is woken to catch up with one sync now, not at its next sweep."""
        with self._lock:
            current, streams = self._call, list(self._call_streams.values())
        if current is call:
            log.info("the server did not end a drained streaming connection within %.0f s; cutting it and "
                     "waking its %d mailbox(es) to catch up", DRAIN_SECONDS, len(streams))
            call.interrupt()
            for key in streams:
                self._wake(key)

    def _interrupt(self) -> None:
        with self._lock:
            call = self._call
        if call is not None:
            call.interrupt()

    def _close(self) -> None:
        """On the way out: give every subscription back and close the connection's pool."""
        with self._lock:
            members = [m for m in self._members.values() if m.sid] + self._leaving
            self._members, self._leaving = {}, []
            poke = self._poke
        if poke is not None:
            poke.cancel()
        # Subscriptions expire on the server anyway: give back what a short while allows, so that
        # stopping a service with thousands of mailboxes is not held up.
        deadline = time.monotonic() + CLOSE_SECONDS
        for member in members:
            if time.monotonic() > deadline:
                break
            self._unsubscribe(member)
        self._drop_protocol()

    def _drop_protocol(self) -> None:
        """Close the connection's own session pool (a new one is made for the next connection)."""
        protocol, self._protocol = self._protocol, None
        if protocol is not None:
            protocol.close()

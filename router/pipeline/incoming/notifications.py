"""Low latency: EWS streaming notifications that wake a mailbox's lane as soon as mail arrives.

The lane's periodic SyncFolderItems sweep is the guarantee that nothing is missed; notifications only
make it run sooner than its sweep would. So a notification carries no data the lane relies on: it
calls ``wake(LaneKey)``, and the lane's next run finds the mail through SyncFolderItems as always. A
dropped connection loses nothing (the server queues a subscription's events); a subscription made
again wakes its lane once more to catch up on whatever arrived while it was missing.

``NotificationHub`` shares connections: the watches of one account (endpoint and credentials, see
``Watch.group``) are put on ``Channel``s (``notify_channel``), each one GetStreamingEvents connection
carrying up to ``PER_CONNECTION`` (200, Exchange's limit for a group) mailboxes' subscriptions, filled
one after the other. At most ``limit`` connections are held per account (Exchange refuses more than
its throttling policy's limit, 10 by default, with ErrorExceededConnectionCount), so 2,000 mailboxes
of one service account hold 10 sockets, not 2,000. Mailboxes beyond ``limit * PER_CONNECTION`` are
served by their sweep alone. A connection whose last mailbox leaves is closed. ``close`` ends every
connection and joins the threads.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from router.ews import AccountFactory
from router.pipeline.incoming.notify_channel import Channel
from router.pipeline.incoming.session import MailboxSession
from router.pipeline.incoming.watch import Watch
from router.runtime.lane import LaneKey

log = logging.getLogger(__name__)

__all__ = ["PER_CONNECTION", "NotificationHub", "Watch"]

PER_CONNECTION = 200
"""Subscriptions one GetStreamingEvents connection carries (Exchange allows 200 in a group)."""
RETRY_BASE_SECONDS = 5.0
RETRY_MAX_SECONDS = 300.0
JOIN_SECONDS = 5.0


@dataclass
class _Membership:
    watch: Watch
    channel: Channel
    owner: object


class NotificationHub:
    """The shared streaming connections of the watched mailboxes; see the module docstring. Thread-safe."""

    def __init__(self, accounts: AccountFactory, wake: Callable[[LaneKey], bool], *,
                 retry_base: float = RETRY_BASE_SECONDS, retry_max: float = RETRY_MAX_SECONDS,
                 per_connection: int = PER_CONNECTION) -> None:
        self._accounts = accounts
        self._wake = wake
        self._retry = (retry_base, retry_max)
        self._per_connection = per_connection
        self._members: dict[LaneKey, _Membership] = {}
        self._channels: list[Channel] = []
        self._ended: list[Channel] = []
        """Connections stopped when their last mailbox left: ``close`` waits for them too."""
        self._groups: dict[Channel, tuple[str, str, int]] = {}
        self._full: set[tuple[str, str]] = set()
        self._lock = threading.Lock()
        self._closed = False

    def watch(self, watch: Watch, limit: int, owner: object = None,
              session: MailboxSession | None = None) -> bool:
        """Watch ``watch.key`` on a shared connection unless its account holds ``limit`` full ones
        already (or it is watched already); True if watched.

        ``owner`` (the lane's work) is who may ``unwatch`` it: a rebuilt lane's new work takes the
        watch over, and the old work, closed afterwards, cannot end it. With the lane's ``session``,
        a missing subscription is made here, in the caller's thread (the lane then synchronises, so
        nothing arrives unseen); without, the connection's thread makes it and wakes the lane.
        """
        with self._lock:
            current = self._members.get(watch.key)
            if current is not None and current.watch == watch and current.channel.is_alive():
                current.owner = owner
                channel: Channel | None = current.channel
            else:
                if current is not None:
                    self._leave(watch.key)
                channel = None if self._closed else self._channel_for(watch, limit)
                if channel is None:
                    return False
                channel.add(watch, session)
                self._members[watch.key] = _Membership(watch, channel, owner)
        if session is not None and channel is not None:
            channel.subscribe_now(watch.key, session)
        return True

    def _channel_for(self, watch: Watch, limit: int) -> Channel | None:
        """A connection of ``watch``'s group with room, a new one within ``limit``, or None."""
        self._channels = [c for c in self._channels if c.is_alive()]
        same = [c for c in self._channels if self._groups[c][:2] == watch.account]
        room = next((c for c in same if self._groups[c] == watch.group and c.size() < self._per_connection),
                    None)
        if room is not None:
            return room
        if len(same) >= limit:
            if watch.account not in self._full:
                self._full.add(watch.account)
                log.warning("%s holds its %d streaming connections (%d mailboxes each); further mailboxes "
                            "are swept without notifications", watch.account[1], limit, self._per_connection)
            return None
        channel = Channel(f"{watch.account[1]}-{len(same) + 1}", watch.minutes, self._accounts, self._wake,
                          self._retry)
        self._channels.append(channel)
        self._groups[channel] = watch.group
        channel.start()
        return channel

    def _leave(self, key: LaneKey) -> None:
        """Take ``key`` off its connection, closing the connection if it was the last (lock held)."""
        membership = self._members.pop(key)
        membership.channel.remove(key)
        if membership.channel.size() == 0:
            membership.channel.stop()
            self._ended = [c for c in self._ended if c.is_alive()] + [membership.channel]
            self._groups.pop(membership.channel, None)
            self._channels = [c for c in self._channels if c is not membership.channel]
        self._full.discard(membership.watch.account)

    def unwatch(self, key: LaneKey, owner: object = None) -> None:
        """Stop watching ``key`` (its lane was removed), unless another ``owner`` took the watch over."""
        with self._lock:
            membership = self._members.get(key)
            if membership is None or membership.owner is not owner:
                return
            self._leave(key)

    def streaming(self, key: LaneKey) -> bool:
        """True while ``key`` has a subscription on a live connection (a notification would wake its lane)."""
        with self._lock:
            membership = self._members.get(key)
        return membership is not None and membership.channel.subscribed(key)

    def watching(self) -> frozenset[LaneKey]:
        """The lanes watched now."""
        with self._lock:
            return frozenset(k for k, m in self._members.items() if m.channel.is_alive())

    def connections(self) -> int:
        """The streaming connections held now (each one socket)."""
        with self._lock:
            return sum(1 for c in self._channels if c.is_alive())

    def close(self) -> None:
        """End every connection and wait (briefly) for the threads; nothing new starts afterwards."""
        with self._lock:
            self._closed = True
            channels, self._channels, self._members = list(self._channels) + self._ended, [], {}
            self._ended = []
            self._groups.clear()
        for channel in channels:
            channel.stop()
        for channel in channels:
            channel.join(JOIN_SECONDS)
            if channel.is_alive():
                log.warning("the notification connection %s did not end within %.0f s", channel.name,
                            JOIN_SECONDS)

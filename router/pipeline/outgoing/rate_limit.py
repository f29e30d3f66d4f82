"""Per-mailbox send rate limiting, asked before every send and never blocking.

Exchange Online lets one mailbox send 30 messages a minute; above that, submissions are delayed or
refused. Each mailbox gets a bucket of ``messages`` tokens, and each token spent comes back exactly
``per_seconds`` later (a sliding-window token bucket). So a mailbox never sends more than ``messages``
in any window of ``per_seconds``, which is how the Exchange limit is stated; a classic bucket that
refills at a steady rate would allow twice the limit in the first window (a full bucket, then the
refill).

The limiter never sleeps. ``try_acquire`` either takes a token and returns 0, or takes nothing and
returns how many seconds to wait; the scheduler parks that mailbox's lane for that long and gives the
worker to another mailbox, so one busy mailbox cannot starve the others. ``hold_off`` records a
server-imposed pause (ErrorServerBusy's BackOffMilliseconds) for one mailbox. All methods are
thread-safe; time comes from the injected ``Clock``'s monotonic reading.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field

from router.clock import Clock


@dataclass(frozen=True)
class SendRate:
    """At most ``messages`` sends in any window of ``per_seconds`` seconds."""

    messages: int = 30
    per_seconds: float = 60.0

    def __post_init__(self) -> None:
        if self.messages < 1 or self.per_seconds <= 0:
            raise ValueError(f"a send rate needs messages >= 1 and per_seconds > 0, got {self}")


EXCHANGE_ONLINE_RATE = SendRate(30, 60.0)
"""Exchange Online's recipient rate for one mailbox: 30 messages a minute."""


@dataclass
class _Bucket:
    """One mailbox's state: its rate, the monotonic instants of recent sends, and any server pause."""

    rate: SendRate
    sent: deque[float] = field(default_factory=deque)
    paused_until: float = 0.0

    def wait(self, now: float) -> float:
        """Return the seconds until this mailbox may send, forgetting sends older than the window."""
        while self.sent and self.sent[0] <= now - self.rate.per_seconds:
            self.sent.popleft()
        window_wait = 0.0
        if len(self.sent) >= self.rate.messages:
            oldest_counted = self.sent[len(self.sent) - self.rate.messages]
            window_wait = oldest_counted + self.rate.per_seconds - now
        return max(0.0, window_wait, self.paused_until - now)


class SendRateLimiter:
    """Token buckets per mailbox (addresses compared case-insensitively); see the module docstring."""

    def __init__(self, clock: Clock, default: SendRate = EXCHANGE_ONLINE_RATE,
                 per_mailbox: Mapping[str, SendRate] | None = None) -> None:
        self._clock = clock
        self._default = default
        self._rates = {_key(mailbox): rate for mailbox, rate in (per_mailbox or {}).items()}
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def try_acquire(self, mailbox: str) -> float:
        """Take a send token for ``mailbox`` and return 0.0, or return the seconds to wait (nothing taken)."""
        with self._lock:
            now = self._clock.monotonic()
            bucket = self._bucket(mailbox)
            wait = bucket.wait(now)
            if wait <= 0:
                bucket.sent.append(now)
            return wait

    def wait_time(self, mailbox: str) -> float:
        """Return the seconds until ``mailbox`` may send (0.0 if now), without taking a token."""
        with self._lock:
            return self._bucket(mailbox).wait(self._clock.monotonic())

    def available(self, mailbox: str) -> int:
        """How many sends ``mailbox`` may make now, one after the other, without waiting (none taken)."""
        with self._lock:
            now = self._clock.monotonic()
            bucket = self._bucket(mailbox)
            if bucket.wait(now) > 0:
                return 0
            return bucket.rate.messages - len(bucket.sent)

    def hold_off(self, mailbox: str, seconds: float) -> None:
        """Let ``mailbox`` send nothing for ``seconds`` (a server back-off); a longer pause is kept."""
        with self._lock:
            bucket = self._bucket(mailbox)
            bucket.paused_until = max(bucket.paused_until, self._clock.monotonic() + seconds)

    def configure(self, mailbox: str, rate: SendRate | None) -> None:
        """Set ``mailbox``'s rate (``None``: back to the default); sends already made still count."""
        with self._lock:
            key = _key(mailbox)
            if rate is None:
                self._rates.pop(key, None)
            else:
                self._rates[key] = rate
            if key in self._buckets:
                self._buckets[key].rate = self._rates.get(key, self._default)

    def forget(self, mailbox: str) -> None:
        """Drop ``mailbox``'s history and pause (it was unbound); its configured rate is kept."""
        with self._lock:
            self._buckets.pop(_key(mailbox), None)

    def _bucket(self, mailbox: str) -> _Bucket:
        key = _key(mailbox)
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(self._rates.get(key, self._default))
        return bucket


def _key(mailbox: str) -> str:
    return mailbox.strip().lower()

"""Graph's limits on the client side: at most 4 requests at once per mailbox, and Retry-After kept.

A 429 names a mailbox's budget: that mailbox waits. A 503 is the service's: the whole app waits. Both
waits are "not before" instants on the injected clock, so every request of that mailbox (or app) holds
back, not only the one that was told.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from router.clock import Clock

MAILBOX_CONCURRENCY = 4
"""Graph's documented limit of concurrent requests per app per mailbox."""


class _Slots:
    """One mailbox's concurrent-request slots; several are taken at once or not at all (no deadlock
    between two requests each holding part of what they need)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.used = 0
        self.ready = threading.Condition()


class Throttle:
    """Concurrency slots per mailbox and Retry-After back-offs per mailbox and per app."""

    def __init__(self, clock: Clock, per_mailbox: int = MAILBOX_CONCURRENCY) -> None:
        self._clock = clock
        self._per_mailbox = per_mailbox
        self._slots: dict[str, _Slots] = {}
        self._not_before: dict[str, float] = {}
        self._lock = threading.Lock()

    @contextmanager
    def slot(self, mailbox: str, weight: int = 1) -> Iterator[None]:
        """Hold ``weight`` of the mailbox's concurrent-request slots (blocks until that many are free):
        a ``$batch`` whose steps Graph runs several at a time takes as many as run at once."""
        with self._lock:
            slots = self._slots.setdefault(mailbox.lower(), _Slots(self._per_mailbox))
        need = max(1, min(weight, slots.size))
        with slots.ready:
            slots.ready.wait_for(lambda: slots.used + need <= slots.size)
            slots.used += need
        try:
            yield
        finally:
            with slots.ready:
                slots.used -= need
                slots.ready.notify_all()

    def wait(self, mailbox: str) -> None:
        """Sleep until neither the mailbox nor the app is held back."""
        delay = self.held_back(mailbox)
        if delay > 0:
            self._clock.sleep(delay)

    def held_back(self, mailbox: str) -> float:
        """Seconds until neither the mailbox nor the app is held back (0: not held back)."""
        with self._lock:
            until = max(self._not_before.get(mailbox.lower(), 0.0), self._not_before.get("", 0.0))
        return max(0.0, until - self._clock.monotonic())

    def back_off(self, mailbox: str | None, seconds: float) -> None:
        """Hold back ``mailbox`` (None: the whole app) for ``seconds``."""
        key = (mailbox or "").lower()
        until = self._clock.monotonic() + seconds
        with self._lock:
            self._not_before[key] = max(self._not_before.get(key, 0.0), until)

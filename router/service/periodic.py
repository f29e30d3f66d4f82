"""A background thread that calls one task every so often, until stopped.

The service keeps three: the configuration watcher (every ConfigRefreshPeriod), the mailbox directory
refresh (every ConfigUpdatePeriod) and the check for mailboxes an admin resumed (every
ConfigRefreshPeriod). The period is read afresh before each wait, so
a newly published setting takes effect without a restart. A task that raises is logged and called again
next period: a CRM that is down for an hour must not end the refreshes.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


class Periodic:
    """Calls ``task`` every ``period()`` seconds on a daemon thread named ``name``."""

    def __init__(self, name: str, task: Callable[[], object], period: Callable[[], float]) -> None:
        self.name = name
        self._task = task
        self._period = period
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the thread; the first call happens after one period."""
        if self._thread is not None:
            raise RuntimeError(f"{self.name} is already running")
        self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
        self._thread.start()

    @property
    def alive(self) -> bool:
        """True while the thread runs."""
        return self._thread is not None and self._thread.is_alive()

    def stop(self, timeout: float | None = None) -> None:
        """Stop the thread: a call in progress finishes first, waited for up to ``timeout`` seconds
        (the thread is a daemon: one still running then is left to end on its own)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _loop(self) -> None:
        while not self._stop.wait(self._period()):
            try:
                self._task()
            except Exception:  # The next period tries again; the thread must outlive one bad call.
                log.exception("%s failed; trying again next period", self.name)

"""SIGTERM / SIGINT for the running service: the first asks for a graceful stop, a second forces exit.

``ShutdownSignals`` installs its handlers only inside its ``with`` block, which only the `run` entry
point enters: importing the service, or using it in tests, never touches signal handling. The first
signal is only recorded in ``received`` (a handler that took a lock could deadlock against the code
it interrupted); the service polls it, then stops scheduling, lets runs in flight finish up to the
grace period, and returns. A second signal means the admin will not wait: ``force(signum)`` logs,
flushes the log handlers and ends the process at once with exit status 128 + signal number (130 for
Ctrl-C, 143 for SIGTERM).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
from collections.abc import Callable, Sequence
from types import FrameType
from typing import Any

log = logging.getLogger(__name__)

SHUTDOWN_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def forced_exit_status(signum: int) -> int:
    """The shell convention for a process ended by a signal."""
    return 128 + signum


def force_exit(signum: int) -> None:
    """End the process now, after writing why; in-flight lane work is abandoned."""
    log.critical("second %s received: exiting now without waiting for runs in flight",
                 signal.Signals(signum).name)
    for handler in logging.getLogger().handlers:
        with contextlib.suppress(Exception):  # Exiting matters more than a flushed log.
            handler.flush()
    os._exit(forced_exit_status(signum))


class ShutdownSignals:
    """Signal handlers for the ``with`` block; the previous handlers are restored after it."""

    def __init__(self, *, force: Callable[[int], None] = force_exit,
                 signals: Sequence[signal.Signals] = SHUTDOWN_SIGNALS) -> None:
        self._force = force
        self._signals = tuple(signals)
        self._previous: dict[signal.Signals, Any] = {}
        self.received: int | None = None

    def __enter__(self) -> ShutdownSignals:
        if threading.current_thread() is not threading.main_thread():
            raise RuntimeError("signal handlers can only be installed from the main thread")
        for signum in self._signals:
            self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)
        self._previous.clear()

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.received is not None:
            self._force(signum)
            return
        self.received = signum

"""Who hears about lanes: the observer protocol, a do-nothing base, and a fan-out that shields the scheduler.

Mailbox health, alerts and metrics plug into the scheduler as observers instead of being called from
it. Observers are called from worker and scheduler threads *outside* the scheduler's lock (so an
observer may call back into the scheduler, e.g. ``wake``), and must be thread-safe and quick.
``Observers`` fans one call out to several observers; an observer that raises is logged and the others
still hear about the event.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Protocol

from router.runtime.lane import LaneKey
from router.runtime.outcome import RunReport

log = logging.getLogger(__name__)


class LaneObserver(Protocol):
    """What the scheduler reports."""

    def lane_added(self, key: LaneKey) -> None:
        """A lane was created (first configuration, or a mailbox newly bound)."""
        ...

    def run_finished(self, report: RunReport) -> None:
        """A run ended; ``report`` says how and when the lane runs next."""
        ...

    def run_overran(self, key: LaneKey, elapsed: float, limit: float) -> None:
        """A run has been going for ``elapsed`` seconds, past MaxThreadExecution (``limit``); it goes on."""
        ...

    def lane_stopped(self, key: LaneKey, error: BaseException) -> None:
        """The lane stopped after a permanent failure; it stays stopped until reconfigured or restarted."""
        ...

    def lane_removed(self, key: LaneKey) -> None:
        """The lane is gone (its mailbox is no longer served) and no run of it is in flight."""
        ...


class NullObserver:
    """Hears everything and does nothing: subclass it to observe only some events."""

    def lane_added(self, key: LaneKey) -> None:
        """Ignore."""

    def run_finished(self, report: RunReport) -> None:
        """Ignore."""

    def run_overran(self, key: LaneKey, elapsed: float, limit: float) -> None:
        """Ignore."""

    def lane_stopped(self, key: LaneKey, error: BaseException) -> None:
        """Ignore."""

    def lane_removed(self, key: LaneKey) -> None:
        """Ignore."""


class Observers:
    """Several observers heard as one; each call reaches all of them even if one raises."""

    def __init__(self, observers: Iterable[LaneObserver] = ()) -> None:
        self._observers = list(observers)

    def add(self, observer: LaneObserver) -> None:
        """Hear ``observer`` too (call before the scheduler starts)."""
        self._observers.append(observer)

    def lane_added(self, key: LaneKey) -> None:
        self._each("lane_added", lambda o: o.lane_added(key))

    def run_finished(self, report: RunReport) -> None:
        self._each("run_finished", lambda o: o.run_finished(report))

    def run_overran(self, key: LaneKey, elapsed: float, limit: float) -> None:
        self._each("run_overran", lambda o: o.run_overran(key, elapsed, limit))

    def lane_stopped(self, key: LaneKey, error: BaseException) -> None:
        self._each("lane_stopped", lambda o: o.lane_stopped(key, error))

    def lane_removed(self, key: LaneKey) -> None:
        self._each("lane_removed", lambda o: o.lane_removed(key))

    def _each(self, event: str, call: Callable[[LaneObserver], None]) -> None:
        for observer in self._observers:
            try:
                call(observer)
            except Exception:  # One broken observer must not silence the others or kill a worker.
                log.exception("lane observer %s failed on %s", type(observer).__name__, event)

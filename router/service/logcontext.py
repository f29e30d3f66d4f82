"""Which lane the current thread is working for, so every log line of a run names its mailbox and lane.

The scheduler sets it around each run; the log formatters read it. Pipelines therefore log plainly
(``log.info("delivered %s", item)``) and still get ``mailbox=`` and ``lane=`` fields. A record's own
``extra={"mailbox": ..., "lane": ...}`` takes precedence.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from router.runtime.lane import LaneKey

_CURRENT: ContextVar[LaneKey | None] = ContextVar("router_current_lane", default=None)


def current_lane() -> LaneKey | None:
    """The lane the calling thread is running, or None outside lane work."""
    return _CURRENT.get()


@contextmanager
def lane_context(key: LaneKey) -> Iterator[None]:
    """Mark the calling thread as working for ``key`` until the block ends."""
    token = _CURRENT.set(key)
    try:
        yield
    finally:
        _CURRENT.reset(token)

"""Per-profile connection limits: at most ``max_connections`` lanes of one profile work at once.

Dynamics' email server profiles cap concurrent connections (``maxconcurrentconnections``); Exchange
throttles a service account that opens too many. The scheduler takes a slot of the lane's group (its
profile) before starting the run and gives it back when the run ends. It *tries* to take the slot
instead of waiting for one, so a worker thread never sits blocked on a busy profile while lanes of
other profiles could run.

Limits can change while runs hold slots (a new configuration): a lowered limit simply admits no new
run until enough slots are given back. Not thread-safe by itself: the scheduler holds its lock.
"""

from __future__ import annotations


class ConnectionLimits:
    """A counting semaphore per group name, with limits that can change at any time."""

    def __init__(self) -> None:
        self._in_use: dict[str, int] = {}

    def try_acquire(self, group: str, limit: int) -> bool:
        """Take one slot of ``group`` when fewer than ``limit`` are taken; say whether it was taken."""
        taken = self._in_use.get(group, 0)
        if taken >= limit:
            return False
        self._in_use[group] = taken + 1
        return True

    def release(self, group: str) -> None:
        """Give back one slot of ``group``."""
        taken = self._in_use.get(group, 0)
        if taken <= 0:
            raise RuntimeError(f"connection group {group!r} released more often than acquired")
        if taken == 1:
            del self._in_use[group]
        else:
            self._in_use[group] = taken - 1

    def in_use(self, group: str) -> int:
        """Slots of ``group`` taken now."""
        return self._in_use.get(group, 0)

"""How long a lane waits before its next run: idle back-off, retry back-off, and jitter.

Two exponential back-offs, both spread by a random factor so that hundreds of mailboxes configured
at the same moment do not poll Exchange in lock-step:

* **Idle**: a run that found nothing to do makes the lane wait ``active_interval * idle_factor**n``
  after ``n`` idle runs in a row, up to ``idle_max_interval``. This is how Dynamics server-side sync
  treats quiet mailboxes (its ``noemailcount`` back-off reaches about 15 minutes). Finding work, or a
  notification waking the lane, resets the count.
* **Retry**: the ``n``-th transient failure in a row makes the lane wait ``retry_base * 2**(n-1)``,
  up to ``retry_max``. After ``escalate_after`` failures in a row (when set) the failure is treated as
  permanent, as server-side sync does after its retry count.

A run that reports a remaining backlog is due again at once. ``for_direction`` derives the policy of
a lane from the system settings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from router.config.profile import Direction
from router.config.settings import SystemSettings

IDLE_CAP_SECONDS = {Direction.INCOMING: 900.0, Direction.OUTGOING: 120.0}
"""Longest idle wait per direction. Incoming lanes may sleep 15 minutes like server-side sync because
Exchange notifications wake them; outgoing lanes poll the CRM, which sends no notification, so a user's
email never waits more than two minutes for a quiet mailbox."""

FIRST_SWEEP_FLOOR = 0.1
"""The earliest first sweep of a lane, as a fraction of the sweep interval (see ``first_sweep_delay``)."""
RETRY_BASE_SECONDS = 30.0
RETRY_MAX_SECONDS = 1800.0


class Jitter(Protocol):
    """The part of ``random.Random`` the policy uses; tests inject a seeded or fixed one."""

    def uniform(self, a: float, b: float) -> float:
        """Return a number between ``a`` and ``b``."""
        ...


@dataclass(frozen=True)
class SchedulePolicy:
    """Waits between runs of one lane, in seconds; see the module docstring."""

    active_interval: float = 1.0
    idle_factor: float = 2.0
    idle_max_interval: float = 900.0
    retry_base: float = RETRY_BASE_SECONDS
    retry_max: float = RETRY_MAX_SECONDS
    jitter: float = 0.1
    escalate_after: int | None = None
    sweep_interval: float | None = None

    def __post_init__(self) -> None:
        if self.active_interval < 0 or self.retry_base < 0:
            raise ValueError("active_interval and retry_base must not be negative")
        if self.idle_factor < 1:
            raise ValueError(f"idle_factor must be at least 1, not {self.idle_factor}")
        if not 0 <= self.jitter < 1:
            raise ValueError(f"jitter must be in [0, 1), not {self.jitter}")
        if self.escalate_after is not None and self.escalate_after < 1:
            raise ValueError(f"escalate_after must be at least 1, not {self.escalate_after}")

    def worked_delay(self, backlog: int, rng: Jitter) -> float:
        """The wait after a run that did work: none while a backlog remains."""
        return 0.0 if backlog > 0 else self.spread(self.active_interval, rng)

    def idle_delay(self, idle_runs: int, rng: Jitter, *, watched: bool = True) -> float:
        """The wait after the ``idle_runs``-th run in a row that found nothing to do.

        A lane that something wakes (``watched``) waits ``sweep_interval`` when the policy has one; any
        other backs off step by step up to ``idle_max_interval``.
        """
        if watched and self.sweep_interval is not None:
            return self.spread(self.sweep_interval, rng)
        exponent = min(max(idle_runs, 1), 64)
        base = min(self.idle_max_interval, self.active_interval * self.idle_factor**exponent)
        return self.spread(base, rng)

    def first_sweep_delay(self, rng: Jitter, *, watched: bool = True) -> float:
        """The wait after a lane's first run (since it started) found nothing to do.

        Every lane starts at once, so sweeps timed from the first runs would come in bursts as long as
        the first pass, every sweep interval. The first sweep of a watched lane is therefore placed
        anywhere in the interval (``FIRST_SWEEP_FLOOR`` of it at least), which spreads the sweeps of
        thousands of lanes evenly from then on. Without jitter (``jitter`` 0) it is the sweep interval.
        """
        if not watched or self.sweep_interval is None or self.jitter == 0:
            return self.idle_delay(1, rng, watched=watched)
        return self.sweep_interval * rng.uniform(FIRST_SWEEP_FLOOR, 1.0 + self.jitter)

    def retry_delay(self, failures: int, rng: Jitter) -> float:
        """The wait after the ``failures``-th transient failure in a row."""
        exponent = min(max(failures, 1) - 1, 64)
        return self.spread(min(self.retry_max, self.retry_base * 2.0**exponent), rng)

    def escalates(self, failures: int) -> bool:
        """True when ``failures`` transient failures in a row count as a permanent failure."""
        return self.escalate_after is not None and failures >= self.escalate_after

    def spread(self, seconds: float, rng: Jitter) -> float:
        """``seconds`` moved randomly by up to ``jitter`` of itself either way."""
        if self.jitter == 0 or seconds == 0:
            return seconds
        return seconds * rng.uniform(1.0 - self.jitter, 1.0 + self.jitter)

    @classmethod
    def for_direction(cls, settings: SystemSettings, direction: Direction,
                      escalate_after: int | None = None) -> SchedulePolicy:
        """The policy of a lane in ``direction``: active lanes poll every scheduling period.

        A lane that something wakes when there is work (the outgoing poll of its CRM deployment, or
        Exchange notifications for incoming mail) waits ``sweep_interval_seconds`` as soon as a run
        finds nothing, while that is true (``WorkResult.watched``); otherwise it backs off step by step
        (up to the sweep interval, or 15 minutes for incoming lanes without notifications).
        """
        period = settings.scheduling_period_seconds
        cap = max(IDLE_CAP_SECONDS[Direction(direction)], period)
        if woken_when_busy(settings, direction):
            sweep = max(settings.sweep_interval_seconds, period)
            return cls(active_interval=period, idle_max_interval=min(cap, sweep), sweep_interval=sweep,
                       escalate_after=escalate_after)
        return cls(active_interval=period, idle_max_interval=cap, escalate_after=escalate_after)


def woken_when_busy(settings: SystemSettings, direction: Direction) -> bool:
    """True when lanes of ``direction`` are woken when they have work, so idle ones need only sweep."""
    if Direction(direction) is Direction.OUTGOING:
        return True
    return settings.incoming.notification_streams > 0

"""The contract between the scheduler and lane work: what work receives, returns, and how a run ended.

Lane work is any callable ``work(context) -> WorkResult``. The pipelines build one per lane (see
``registry``). A run *returns* what it did (outcomes are values); it *raises* only when the lane as a
whole cannot go on: a transient ``RouterError`` is retried with back-off (its ``back_off``, when set,
holds back every lane of its server), while errors only an admin can fix (``PermanentTransportError``,
``CrmPermanentError``, ``ConfigError``, ``VaultError``) stop the lane until it is reconfigured; see
``lanestate.classify``. Work that holds resources (sessions,
connections) may also have a ``close()`` method; the scheduler calls it once the lane is removed or
rebuilt and no run of it is in flight.

Work should check ``context.cancelled`` between items: it is set when the service shuts down, so a
batch ends after the item in hand instead of being cut off when the grace period runs out.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol, runtime_checkable

from router.runtime.lane import LaneKey


@dataclass(frozen=True)
class WorkResult:
    """What one run did: items ``processed`` and items known to be still ``waiting``.

    ``waiting > 0`` makes the lane due again at once; a run with neither counts as idle and lengthens
    the lane's idle back-off. ``resume_in`` says the waiting items may not be worked on for that many
    seconds (the mailbox's send rate limit, or a back-off Exchange asked of this mailbox alone): the
    lane is due again then, and the worker is free for other lanes meanwhile. ``watched`` is False when
    nothing will wake the lane when work arrives (its notification stream is down, or no outgoing poll
    covers it): an idle lane then backs off step by step instead of waiting for its sweep.
    """

    processed: int = 0
    waiting: int = 0
    resume_in: float | None = None
    watched: bool = True

    def __post_init__(self) -> None:
        if self.processed < 0 or self.waiting < 0 or (self.resume_in is not None and self.resume_in < 0):
            raise ValueError(f"work results cannot be negative: {self}")

    @property
    def idle(self) -> bool:
        """True when the run found nothing to do and nothing is waiting."""
        return self.processed == 0 and self.waiting == 0


IDLE = WorkResult()
"""The result of a run that found nothing to do."""


@dataclass(frozen=True)
class WorkContext:
    """Handed to each run: which lane it is, and a flag raised when the service is shutting down.

    ``sweep`` is True when nothing woke the lane: its idle wait ran out (its last run was idle and
    nothing woke it since), or it is the lane's first run since it started: a lane may then skip
    questions a wake-up would have answered (the outgoing lane asks the CRM only when the deployment's
    poll did not already say there is nothing to send).
    """

    key: LaneKey
    cancel_event: threading.Event = field(default_factory=threading.Event, compare=False)
    sweep: bool = False

    @property
    def cancelled(self) -> bool:
        """True once the run should stop after the item in hand."""
        return self.cancel_event.is_set()


class LaneWork(Protocol):
    """One run of a lane's pipeline."""

    def __call__(self, context: WorkContext) -> WorkResult:
        """Do one batch of the lane's work and say what was done."""
        ...


@runtime_checkable
class Closeable(Protocol):
    """Lane work that holds resources to release when its lane is removed or rebuilt."""

    def close(self) -> None:
        """Release sessions, connections or files."""
        ...


class RunKind(StrEnum):
    """How a run ended, as the scheduler saw it."""

    WORKED = "worked"
    """It processed items or found items waiting."""
    IDLE = "idle"
    """It found nothing to do."""
    THROTTLED = "throttled"
    """The server or CRM asked to back off; every lane sharing it waits."""
    RETRY = "retry"
    """A transient failure: the lane retries after its back-off."""
    STOPPED = "stopped"
    """A permanent failure (or too many transient ones): the lane stops until reconfigured."""


@dataclass(frozen=True)
class RunReport:
    """One finished run, as given to observers.

    ``error`` is set for THROTTLED, RETRY and STOPPED; ``result`` for WORKED and IDLE.
    ``consecutive_failures`` counts failed runs in a row including this one (0 after a success).
    ``next_run_in`` is the wait before the lane is due again (None once stopped). ``superseded`` is
    true when the lane was removed or reconfigured while this run was in flight, so the report no
    longer decides anything about the lane.
    """

    key: LaneKey
    kind: RunKind
    elapsed: float
    result: WorkResult | None = None
    error: BaseException | None = None
    consecutive_failures: int = 0
    next_run_in: float | None = None
    superseded: bool = False

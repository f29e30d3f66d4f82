"""Scriptable lane work and a recording observer for scheduler and service tests.

Runs happen on the scheduler's real worker threads; tests wait for the observer to hear of them
(bounded waits on conditions, never sleeps) and move a ``FrozenClock`` to make time pass.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from router.config.profile import Direction
from router.runtime.lane import LaneKey, LaneSpec
from router.runtime.outcome import RunKind, RunReport, WorkContext, WorkResult
from router.runtime.policy import SchedulePolicy

WAIT = 10.0
"""Upper bound, in real seconds, on waiting for a worker thread; a passing test never waits this long."""

Step = WorkResult | BaseException | Callable[[WorkContext], WorkResult]


class FixedJitter:
    """A ``Jitter`` that always picks the same point of the range: 0.5 is the middle (no jitter)."""

    def __init__(self, point: float = 0.5) -> None:
        self.point = point

    def uniform(self, a: float, b: float) -> float:
        return a + (b - a) * self.point


def key(mailbox: str = "alice@example.test", direction: Direction = Direction.INCOMING) -> LaneKey:
    return LaneKey(mailbox, direction)


def spec(mailbox: str = "alice@example.test", direction: Direction = Direction.INCOMING, *,
         group: str = "in", limit: int = 10, server: str = "mail.example.test", crm: str = "main",
         fingerprint: str = "v1", policy: SchedulePolicy | None = None) -> LaneSpec:
    return LaneSpec(key(mailbox, direction), group, limit, server, crm, fingerprint,
                    policy or SchedulePolicy(active_interval=1.0, idle_max_interval=8.0, retry_base=10.0,
                                             retry_max=40.0, jitter=0.0))


class Gate:
    """A step that blocks its run until the test opens the gate, and says when the run has begun."""

    def __init__(self, result: WorkResult | None = None) -> None:
        self.entered = threading.Event()
        self.opened = threading.Event()
        self.result = result or WorkResult(processed=1)

    def __call__(self, context: WorkContext) -> WorkResult:
        self.entered.set()
        if not self.opened.wait(WAIT):
            raise TimeoutError("the test never opened the gate")
        return self.result

    def open(self) -> None:
        self.opened.set()


@dataclass
class ScriptedWork:
    """Lane work that plays ``steps`` in order (then returns ``then``), counting calls and overlaps."""

    steps: deque[Step] = field(default_factory=deque)
    then: WorkResult = field(default_factory=WorkResult)
    calls: int = 0
    closed: int = 0
    inside: int = 0
    most_inside: int = 0
    contexts: list[WorkContext] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def of(cls, *steps: Step, then: WorkResult | None = None) -> ScriptedWork:
        return cls(deque(steps), then or WorkResult())

    def __call__(self, context: WorkContext) -> WorkResult:
        with self._lock:
            self.calls += 1
            self.inside += 1
            self.most_inside = max(self.most_inside, self.inside)
            self.contexts.append(context)
            step = self.steps.popleft() if self.steps else self.then
        try:
            if isinstance(step, BaseException):
                raise step
            return step(context) if callable(step) else step
        finally:
            with self._lock:
                self.inside -= 1

    def close(self) -> None:
        self.closed += 1


class Recorder:
    """An observer that keeps every event and lets a test wait for runs to be reported."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self.reports: list[RunReport] = []
        self.added: list[LaneKey] = []
        self.removed: list[LaneKey] = []
        self.stopped: list[tuple[LaneKey, BaseException]] = []
        self.overruns: list[tuple[LaneKey, float, float]] = []

    def lane_added(self, key: LaneKey) -> None:
        with self._cond:
            self.added.append(key)
            self._cond.notify_all()

    def run_finished(self, report: RunReport) -> None:
        with self._cond:
            self.reports.append(report)
            self._cond.notify_all()

    def run_overran(self, key: LaneKey, elapsed: float, limit: float) -> None:
        with self._cond:
            self.overruns.append((key, elapsed, limit))
            self._cond.notify_all()

    def lane_stopped(self, key: LaneKey, error: BaseException) -> None:
        with self._cond:
            self.stopped.append((key, error))
            self._cond.notify_all()

    def lane_removed(self, key: LaneKey) -> None:
        with self._cond:
            self.removed.append(key)
            self._cond.notify_all()

    def wait_runs(self, count: int, lane: LaneKey | None = None) -> list[RunReport]:
        """Wait until ``count`` runs (of ``lane``, if given) were reported; return those reports."""
        def mine() -> list[RunReport]:
            return [r for r in self.reports if lane is None or r.key == lane]

        with self._cond:
            if not self._cond.wait_for(lambda: len(mine()) >= count, WAIT):
                raise AssertionError(f"expected {count} runs, saw {mine()}")
            return mine()

    def wait_for(self, predicate: Callable[[], bool]) -> None:
        with self._cond:
            if not self._cond.wait_for(predicate, WAIT):
                raise AssertionError("the expected lane event never came")

    def kinds(self, lane: LaneKey | None = None) -> list[RunKind]:
        with self._cond:
            return [r.kind for r in self.reports if lane is None or r.key == lane]


def builder(works: dict[LaneKey, ScriptedWork]) -> Callable[[LaneSpec], ScriptedWork]:
    """A ``BuildWork`` that hands out the prepared work of each lane."""
    return lambda s: works[s.key]


def keys(reports: Iterable[RunReport]) -> list[LaneKey]:
    return [r.key for r in reports]


class SlowToClose(ScriptedWork):
    """Idle lane work whose close blocks (a quiet notification stream) until ``release`` or WAIT."""

    def __init__(self, release: threading.Event) -> None:
        super().__init__()
        self.release = release
        self.entered = threading.Event()
        self.finished = False

    def close(self) -> None:
        self.entered.set()
        self.release.wait(WAIT)
        self.finished = True

"""One lane's scheduling state and how a finished run moves it on.

``LaneState`` is the scheduler's record of a lane: its spec and work, when it is next due, its idle
and failure streaks, whether it is stopped, retired (unbound, waiting for its last run to end) or
running. ``settle`` turns a run's result or error into a ``RunReport`` and the lane's next due time;
``classify`` says how an error is treated; ``LaneSnapshot`` describes a lane for status pages.
Not thread-safe: the scheduler holds its lock.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from router.errors import (
    ConfigError,
    CrmError,
    CrmPermanentError,
    MailboxStoppedError,
    PermanentTransportError,
    RouterError,
    VaultError,
)
from router.runtime.lane import LaneKey, LaneSpec
from router.runtime.outcome import LaneWork, RunKind, RunReport, WorkContext, WorkResult
from router.runtime.policy import Jitter


@dataclass
class Run:
    """A run in flight: its context, start (monotonic), the lane generation and slot it holds."""

    context: WorkContext
    started: float
    generation: int
    group: str
    overran: bool = False


@dataclass
class Verdict:
    """How an ended run is treated, before it changes any lane."""

    kind: RunKind
    back_off: float | None = None
    scope: str | None = None


STOPPING_ERRORS: tuple[type[RouterError], ...] = (PermanentTransportError, CrmPermanentError, ConfigError,
                                                   VaultError, MailboxStoppedError)
"""Errors that only an admin can fix for this mailbox: bad credentials, missing rights or mailbox, a
refused CRM caller, a configuration or credential the lane cannot use, or a stop still in force."""


def classify(spec: LaneSpec, result: WorkResult | None, error: BaseException | None) -> Verdict:
    """Decide what a run's result or error means for its lane.

    ``STOPPING_ERRORS`` stop the lane. A transient ``RouterError`` with a ``back_off`` throttles its
    server (a ``CrmError`` its CRM deployment). Everything else is retried with back-off: transient
    errors, router errors that are not the mailbox's fault (the state store, one message), and any
    other exception, which is a bug in lane work, because one bad item must not stop a mailbox.
    """
    if error is None:
        return Verdict(RunKind.IDLE if result is None or result.idle else RunKind.WORKED)
    if isinstance(error, STOPPING_ERRORS):
        return Verdict(RunKind.STOPPED)
    back_off = getattr(error, "back_off", None) if isinstance(error, RouterError) else None
    if back_off is not None and back_off > 0:
        scope = spec.crm_scope if isinstance(error, CrmError) else spec.server_scope
        return Verdict(RunKind.THROTTLED, float(back_off), scope)
    return Verdict(RunKind.RETRY)


@dataclass
class LaneState:
    """The scheduler's record of one lane."""

    spec: LaneSpec
    work: LaneWork | None
    due: float
    generation: int = 0
    idle_runs: int = 0
    failures: int = 0
    stopped: BaseException | None = None
    retired: bool = False
    woken: bool = False
    running: Run | None = None
    last: RunReport | None = None
    fresh: bool = True
    """No run has ended since the lane was (re)started: its next run is one that nothing woke."""
    queued: int = -1
    """The sequence number of the lane's live entry in the scheduler's due queue (-1: none)."""
    to_close: list[LaneWork] = field(default_factory=list)

    @property
    def runnable(self) -> bool:
        """True when the lane may be dispatched once due (it has work, is not stopped, retired or busy)."""
        return (self.work is not None and self.stopped is None and not self.retired
                and self.running is None)

    def settle(self, run: Run, result: WorkResult | None, error: BaseException | None, now: float,
               rng: Jitter) -> tuple[RunReport, Verdict]:
        """Apply a finished run of the current generation; return its report and verdict."""
        verdict = classify(self.spec, result, error)
        delay: float | None
        if verdict.kind in (RunKind.WORKED, RunKind.IDLE):
            delay = self._after_success(result or WorkResult(), rng)
        else:
            delay = self._after_failure(verdict, error, rng)
        if self.woken and verdict.kind in (RunKind.WORKED, RunKind.IDLE):
            delay = 0.0
        self.woken = self.fresh = False
        self.due = now + delay if delay is not None else float("inf")
        report = RunReport(key=self.spec.key, kind=verdict.kind, elapsed=now - run.started, result=result,
                           error=error, consecutive_failures=self.failures, next_run_in=delay)
        self.last = report
        return report, verdict

    def restart(self, now: float) -> None:
        """Forget streaks and any stop; due at once."""
        self.generation += 1
        self.idle_runs = self.failures = 0
        self.stopped = None
        self.woken = False
        self.fresh = True
        self.due = now

    def _after_success(self, result: WorkResult, rng: Jitter) -> float:
        self.failures = 0
        if result.resume_in is not None:
            self.idle_runs = 0
            return result.resume_in
        if result.idle:
            self.idle_runs += 1
            if self.fresh:
                return self.spec.policy.first_sweep_delay(rng, watched=result.watched)
            return self.spec.policy.idle_delay(self.idle_runs, rng, watched=result.watched)
        self.idle_runs = 0
        return self.spec.policy.worked_delay(result.waiting, rng)

    def _after_failure(self, verdict: Verdict, error: BaseException | None, rng: Jitter) -> float | None:
        self.failures += 1
        if verdict.kind is RunKind.RETRY and self.spec.policy.escalates(self.failures):
            verdict.kind = RunKind.STOPPED
        if verdict.kind is RunKind.STOPPED:
            self.stopped = error
            return None
        if verdict.kind is RunKind.THROTTLED and verdict.back_off is not None:
            return verdict.back_off
        return self.spec.policy.retry_delay(self.failures, rng)


@dataclass(frozen=True)
class LaneSnapshot:
    """A lane as it is now, for status pages: times are seconds from now."""

    key: LaneKey
    running_for: float | None
    due_in: float | None
    idle_runs: int
    failures: int
    stopped: str | None
    retired: bool
    last: RunReport | None

    @classmethod
    def of(cls, lane: LaneState, now: float) -> LaneSnapshot:
        """Describe ``lane`` at monotonic time ``now``."""
        running_for = now - lane.running.started if lane.running is not None else None
        waiting = lane.runnable or lane.running is not None
        return cls(key=lane.spec.key, running_for=running_for,
                   due_in=max(0.0, lane.due - now) if waiting and lane.due != float("inf") else None,
                   idle_runs=lane.idle_runs, failures=lane.failures,
                   stopped=str(lane.stopped) if lane.stopped is not None else None, retired=lane.retired,
                   last=lane.last)

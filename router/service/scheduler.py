"""The scheduler: runs due lanes on a bounded worker pool, one worker per lane at most.

Every ``period`` seconds (SchedulingPeriod), and whenever a run ends or a lane is woken, the scheduler
*ticks*: it starts each due lane, oldest due first, while a worker is free (MaxThreads), the lane's
profile has a free connection slot (``max_connections``) and neither its Exchange server nor its CRM
asked to back off. A finished run moves its lane on (see ``lanestate``): busy lanes come back at once,
idle ones back off, transient failures retry with back-off, permanent ones stop the lane. A run longer
than MaxThreadExecution is reported once to the log and the observers; it goes on, because a Python
thread cannot be killed safely, and its lane stays occupied until it ends.

``apply`` installs a new set of lanes atomically: new lanes start, removed ones drain (their run in
flight finishes, then they are gone), changed ones get freshly built work. Work is built outside the
lock, so a slow factory never holds up running lanes.

Due times come from the injected clock's ``monotonic``; waiting between ticks uses real time. Tests
drive ``tick`` themselves with a ``FrozenClock`` and never need ``start``.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial

from router.clock import Clock
from router.errors import RouterError
from router.runtime.lane import LaneKey, LaneSpec
from router.runtime.outcome import Closeable, LaneWork, RunKind, RunReport, WorkContext, WorkResult
from router.runtime.policy import Jitter
from router.service.duequeue import Bucket, DueQueue
from router.service.lanestate import LaneSnapshot, LaneState, Run, classify
from router.service.limits import ConnectionLimits
from router.service.logcontext import lane_context
from router.service.observer import LaneObserver, NullObserver
from router.service.pool import WorkerPool
from router.service.runlog import log_report
from router.service.throttle import ThrottleBoard

log = logging.getLogger(__name__)

BuildWork = Callable[[LaneSpec], LaneWork]
"""Builds the work of a new or changed lane; may raise a RouterError, which stops that lane only."""

Event = Callable[[], None]
PRUNE_SECONDS = 60.0
"""How often ended server back-offs are forgotten."""


@dataclass(frozen=True)
class ApplySummary:
    """What ``apply`` changed: lanes added, removed (draining), rebuilt, left alone, and failed to build."""

    added: tuple[LaneKey, ...] = ()
    removed: tuple[LaneKey, ...] = ()
    rebuilt: tuple[LaneKey, ...] = ()
    unchanged: int = 0
    failed: tuple[LaneKey, ...] = ()


class Scheduler:
    """Runs lane work on ``max_threads`` workers; see the module docstring."""

    def __init__(self, clock: Clock, *, observer: LaneObserver | None = None, rng: Jitter | None = None,
                 max_threads: int = 50, max_run_seconds: float = 600.0, period: float = 1.0) -> None:
        self._clock = clock
        self._observer: LaneObserver = observer or NullObserver()
        self._rng: Jitter = rng or random.Random()
        self._cond = threading.Condition(threading.Lock())
        self._apply_lock = threading.Lock()
        self._lanes: dict[LaneKey, LaneState] = {}
        self._queue = DueQueue()
        self._running: dict[int, LaneState] = {}
        self._throttle = ThrottleBoard()
        self._limits = ConnectionLimits()
        self._pool: WorkerPool | None = None
        self._loop: threading.Thread | None = None
        self._busy = 0
        self._idle_waiters = 0
        self._pruned = 0.0
        self._kicked = False
        self._stopping = False
        self.loop_error: BaseException | None = None
        self.configure(max_threads=max_threads, max_run_seconds=max_run_seconds, period=period)

    # Configuration.

    def configure(self, *, max_threads: int, max_run_seconds: float, period: float) -> None:
        """Change the worker count, the overrun limit and the tick period (runs in flight go on)."""
        if max_threads < 1 or max_run_seconds <= 0 or period <= 0:
            raise ValueError("max_threads, max_run_seconds and period must be positive")
        with self._cond:
            self._max_threads, self._max_run, self._period = max_threads, max_run_seconds, period
            if self._pool is not None:
                self._pool.resize(max_threads)
            self._kick()

    def apply(self, specs: Iterable[LaneSpec], build: BuildWork) -> ApplySummary:
        """Make the lanes exactly ``specs``: add, rebuild (new fingerprint), remove; all in one step."""
        wanted = {spec.key: spec for spec in specs}
        with self._apply_lock:
            with self._cond:
                to_build = [s for k, s in wanted.items()
                            if k not in self._lanes or self._lanes[k].spec.fingerprint != s.fingerprint]
            built = {spec.key: _build(spec, build) for spec in to_build}
            with self._cond:
                events, summary = self._commit(wanted, built)
                self._kick()
        _fire(events)
        return summary

    # Running.

    def start(self) -> None:
        """Tick on a background thread every period until ``stop``."""
        with self._cond:
            if self._loop is not None or self._stopping:
                raise RuntimeError("the scheduler was already started or stopped")
            self._loop = threading.Thread(target=self._run_loop, name="scheduler", daemon=True)
            self._loop.start()

    @property
    def alive(self) -> bool:
        """True while the background loop runs (always false before ``start``)."""
        return self._loop is not None and self._loop.is_alive()

    def tick(self) -> int:
        """Report overruns and start every lane that is due and allowed to run; return how many started."""
        events: list[Event] = []
        with self._cond:
            now = self._clock.monotonic()
            self._check_overruns(now, events)
            started = 0 if self._stopping else self._dispatch(now)
        _fire(events)
        return started

    def wake(self, key: LaneKey) -> bool:
        """Make ``key`` due now and reset its idle back-off (an Exchange notification); False if unknown.

        A lane backing off after failures keeps its retry time, and throttling still applies.
        """
        with self._cond:
            lane = self._lanes.get(key)
            if lane is None or lane.retired or lane.stopped is not None:
                return False
            lane.idle_runs = 0
            if lane.running is not None:
                lane.woken = True
            elif lane.failures == 0:
                lane.due = min(lane.due, self._clock.monotonic())
                self._enqueue(lane)
            self._kick()
            return True

    def restart(self, key: LaneKey) -> bool:
        """Start a stopped lane again (after an admin's fix is tested); False if it cannot be restarted."""
        with self._cond:
            lane = self._lanes.get(key)
            if lane is None or lane.retired or lane.work is None or lane.stopped is None:
                return False
            lane.restart(self._clock.monotonic())
            self._enqueue(lane)
            self._kick()
        log.info("lane %s restarted", key)
        return True

    def stop(self, grace: float) -> bool:
        """Stop starting runs, ask runs in flight to wrap up, wait up to ``grace`` seconds for them.

        Returns True when every run finished; runs still going are abandoned (their threads are
        daemons). Idle lanes' work is closed. The scheduler cannot be started again; calling ``stop``
        again only reports whether runs are still in flight.
        """
        deadline = time.monotonic() + grace
        with self._cond:
            if self._stopping:
                return self._busy == 0
            self._stopping = True
            for lane in self._lanes.values():
                if lane.running is not None:
                    lane.running.context.cancel_event.set()
            self._kick()
        if self._loop is not None:
            self._loop.join()
        drained = self.wait_idle(grace)
        with self._cond:
            pool, self._pool = self._pool, None
            idle = [lane for lane in self._lanes.values() if lane.running is None]
        if pool is not None:
            pool.shutdown(timeout=max(0.0, deadline - time.monotonic()) if drained else 0.0)
        _close_within([w for lane in idle for w in (*lane.to_close, lane.work) if w is not None], deadline)
        return drained

    def wait_idle(self, timeout: float | None) -> bool:
        """Wait until no run is in flight (real time, up to ``timeout``); True if none is."""
        with self._cond:
            self._idle_waiters += 1
            try:
                return self._cond.wait_for(lambda: self._busy == 0, timeout)
            finally:
                self._idle_waiters -= 1

    # Inspection.

    def lanes(self) -> list[LaneSnapshot]:
        """Every lane, sorted by key."""
        with self._cond:
            now = self._clock.monotonic()
            return [LaneSnapshot.of(lane, now) for _, lane in sorted(self._lanes.items())]

    def throttled(self) -> dict[str, float]:
        """Each server or CRM scope backing off now, with the seconds left."""
        with self._cond:
            return self._throttle.active(self._clock.monotonic())

    # Internals; every method below runs with the lock held unless its name says otherwise.

    def _kick(self) -> None:
        self._kicked = True
        self._cond.notify_all()

    def _run_loop(self) -> None:
        try:
            while True:
                self.tick()
                with self._cond:
                    if not self._kicked and not self._stopping:
                        self._cond.wait(self._period)
                    self._kicked = False
                    if self._stopping:
                        return
        except Exception as exc:  # A scheduler bug: stop ticking and let the health probe say so.
            self.loop_error = exc
            log.critical("the scheduler loop failed; no more lanes will start", exc_info=True)

    def _enqueue(self, lane: LaneState) -> None:
        """Queue ``lane`` at its (new) due time; its older entries become stale."""
        self._queue.push(lane)

    def _check_overruns(self, now: float, events: list[Event]) -> None:
        for lane in self._running.values():
            run, key = lane.running, lane.spec.key
            if run is not None and not run.overran and now - run.started > self._max_run:
                run.overran = True
                elapsed, limit = now - run.started, self._max_run
                log.error("lane %s has been running for %.0f s, longer than MaxThreadExecution (%.0f s); "
                          "it goes on, and the lane waits for it", key, elapsed, limit,
                          extra={"mailbox": key.mailbox, "lane": str(key)})
                events.append(partial(self._observer.run_overran, key, elapsed, limit))

    def _dispatch(self, now: float) -> int:
        if now - self._pruned > PRUNE_SECONDS:
            self._throttle.forget_expired(now)
            self._pruned = now
        if self._busy >= self._max_threads:
            return 0
        # The due lanes come off heaps kept as due times change, one per bucket of lanes that can only
        # start together (see ``duequeue``): a tick costs what it starts, not a pass over every due lane,
        # which with 10,000s of lanes due at start-up and a tick after each run would be.
        full: set[str] = set()
        blocked: dict[tuple[str, str], bool] = {}

        def is_open(bucket: Bucket, spec: LaneSpec) -> bool:
            group, scopes = bucket[0], (bucket[1], bucket[2])
            if group in full:
                return False
            if self._limits.in_use(group) >= spec.group_limit:
                full.add(group)  # Nothing is released while the lock is held.
                return False
            if scopes not in blocked:
                blocked[scopes] = self._throttle.blocked_until(scopes, now) is not None
            return not blocked[scopes]

        started = 0
        while self._busy < self._max_threads:
            lane = self._queue.pop_due(now, self._live, is_open)
            if lane is None:
                break
            acquired = self._limits.try_acquire(lane.spec.connection_group, lane.spec.group_limit)
            assert acquired, "an open bucket has a free slot"
            lane.queued = -1
            assert lane.work is not None, "a runnable lane has work"
            self._launch(lane, lane.work, now)
            started += 1
        return started

    def _live(self, lane: LaneState, seq: int) -> bool:
        """Whether a queue entry still counts: the lane's latest, runnable and still this key's lane."""
        return lane.queued == seq and lane.runnable and self._lanes.get(lane.spec.key) is lane

    def _launch(self, lane: LaneState, work: LaneWork, now: float) -> None:
        # A sweep is a run that nothing woke: its idle wait ran out, or it is the lane's first.
        context = WorkContext(lane.spec.key, sweep=lane.idle_runs > 0 or (lane.fresh and not lane.woken))
        run = Run(context, now, lane.generation, lane.spec.connection_group)
        lane.running = run
        self._running[id(lane)] = lane
        self._busy += 1
        if self._pool is None:
            self._pool = WorkerPool(self._max_threads)
        self._pool.submit(partial(self._execute, lane, run, work))

    def _execute(self, lane: LaneState, run: Run, work: LaneWork) -> None:
        """Worker thread: run the work without the lock, then settle the lane."""
        result: WorkResult | None = None
        error: BaseException | None = None
        with lane_context(run.context.key):
            try:
                result = work(run.context)
                if not isinstance(result, WorkResult):
                    raise TypeError(f"lane work returned {type(result).__name__}, not a WorkResult")
            except Exception as exc:  # Every failure of lane work is an outcome of the run.
                result, error = None, exc
        self._finish(lane, run, result, error)

    def _finish(self, lane: LaneState, run: Run, result: WorkResult | None,
                error: BaseException | None) -> None:
        """Worker thread: give back the slots, move the lane on, then tell observers without the lock."""
        events: list[Event] = []
        with self._cond:
            now = self._clock.monotonic()
            held_back = self._holds_back(run, lane.spec.group_limit)
            self._limits.release(run.group)
            self._busy -= 1
            lane.running = None
            self._running.pop(id(lane), None)
            report = self._settle(lane, run, result, error, now, events)
            due_again = lane.runnable and self._lanes.get(lane.spec.key) is lane
            if due_again:
                self._enqueue(lane)  # At its new due time (or again, if a rebuild moved it meanwhile).
            closing, lane.to_close = lane.to_close, []
            if held_back or (due_again and lane.due <= now) or self._stopping:
                self._kick()
            elif self._busy == 0 and self._idle_waiters:
                self._cond.notify_all()  # For ``wait_idle`` only.
        log_report(report)
        self._observer.run_finished(report)
        _fire(events)
        _close(closing)

    def _holds_back(self, run: Run, group_limit: int) -> bool:
        """Whether ``run`` (not yet released) takes a slot another due lane may be waiting for: the last
        free worker, or the last connection of its group.

        When it does not, and its lane is not due again at once, its end can start nothing the last tick
        did not, so it does not wake the scheduler: the next tick (within a period) is soon enough. An
        idle sweep's end then costs no tick; a busy lane's next batch, a freed worker or connection
        slot still wake it at once (and the last run in flight wakes ``wait_idle``).
        """
        return self._busy >= self._max_threads or self._limits.in_use(run.group) >= group_limit

    def _settle(self, lane: LaneState, run: Run, result: WorkResult | None, error: BaseException | None,
                now: float, events: list[Event]) -> RunReport:
        key = lane.spec.key
        if lane.retired or run.generation != lane.generation:
            report = _superseded(lane, run, result, error, now)
            if lane.retired and self._lanes.get(key) is lane:
                del self._lanes[key]
                lane.to_close.extend(w for w in (lane.work,) if w is not None)
                events.append(partial(self._observer.lane_removed, key))
            return report
        report, verdict = lane.settle(run, result, error, now, self._rng)
        if verdict.scope is not None and verdict.back_off is not None:
            self._throttle.block(verdict.scope, now + verdict.back_off)
        if report.kind is RunKind.STOPPED and error is not None:
            events.append(partial(self._observer.lane_stopped, key, error))
        return report

    def _commit(self, wanted: dict[LaneKey, LaneSpec],
                built: dict[LaneKey, LaneWork | BaseException]) -> tuple[list[Event], ApplySummary]:
        now = self._clock.monotonic()
        events: list[Event] = []
        removed = [key for key, lane in self._lanes.items() if key not in wanted and not lane.retired]
        for key in removed:
            self._retire(key, events)
        added, rebuilt, failed = [], [], []
        for key, spec in wanted.items():
            lane = self._lanes.get(key)
            if key in built:
                outcome = built[key]
                if lane is None:
                    lane = self._lanes[key] = LaneState(spec, None, now)
                    added.append(key)
                    events.append(partial(self._observer.lane_added, key))
                else:
                    rebuilt.append(key)
                self._install(lane, spec, outcome, now, events)
                if isinstance(outcome, BaseException):
                    failed.append(key)
            elif lane is not None:
                if lane.retired:
                    lane.spec, lane.retired = spec, False
                    self._enqueue(lane)
                lane.spec = spec
        summary = ApplySummary(tuple(added), tuple(removed), tuple(rebuilt),
                               len(wanted) - len(added) - len(rebuilt), tuple(failed))
        return events, summary

    def _install(self, lane: LaneState, spec: LaneSpec, outcome: LaneWork | BaseException, now: float,
                 events: list[Event]) -> None:
        if lane.work is not None:
            lane.to_close.append(lane.work)
        lane.spec, lane.retired = spec, False
        lane.restart(now)
        self._enqueue(lane)
        if isinstance(outcome, BaseException):
            lane.work, lane.stopped = None, outcome
            events.append(partial(self._observer.lane_stopped, spec.key, outcome))
        else:
            lane.work = outcome
        if lane.running is None and lane.to_close:
            closing, lane.to_close = lane.to_close, []
            events.append(partial(_close, closing))

    def _retire(self, key: LaneKey, events: list[Event]) -> None:
        lane = self._lanes[key]
        if lane.running is not None:
            lane.retired = True
            return
        del self._lanes[key]
        closing = [w for w in (*lane.to_close, lane.work) if w is not None]
        events.append(partial(_close, closing))
        events.append(partial(self._observer.lane_removed, key))


def _build(spec: LaneSpec, build: BuildWork) -> LaneWork | BaseException:
    """Build one lane's work; a failure becomes that lane's stop reason instead of aborting the apply."""
    try:
        return build(spec)
    except RouterError as exc:
        log.error("lane %s cannot be set up: %s", spec.key, exc, extra={"mailbox": spec.key.mailbox})
        return exc
    except Exception as exc:  # A factory bug must not keep every other lane from the new configuration.
        log.exception("lane %s cannot be set up", spec.key, extra={"mailbox": spec.key.mailbox})
        return exc


def _superseded(lane: LaneState, run: Run, result: WorkResult | None, error: BaseException | None,
                now: float) -> RunReport:
    kind = classify(lane.spec, result, error).kind
    return RunReport(key=lane.spec.key, kind=kind, elapsed=now - run.started, result=result, error=error,
                     superseded=True)


def _fire(events: Iterable[Event]) -> None:
    for event in events:
        event()


def _close_within(works: list[LaneWork], deadline: float) -> None:
    """Close ``works`` side by side, waiting until ``deadline`` (monotonic) at most: closing one lane
    (ending its notification stream) can take seconds, and the stop must fit in its grace period."""
    closers = [threading.Thread(target=_close, args=([work],), name="close-lane-work", daemon=True)
               for work in works]
    for closer in closers:
        closer.start()
    for closer in closers:
        closer.join(max(0.0, deadline - time.monotonic()))
    left = sum(1 for closer in closers if closer.is_alive())
    if left:
        log.warning("%d lane(s) were still closing when the grace period ended; left to finish on their own",
                    left)


def _close(works: Iterable[LaneWork]) -> None:
    """Release the resources of lane work that no run uses any more."""
    for work in works:
        if isinstance(work, Closeable):
            try:
                work.close()
            except Exception:  # Closing is best effort; a failure must not stop the scheduler.
                log.exception("closing lane work %r failed", work)


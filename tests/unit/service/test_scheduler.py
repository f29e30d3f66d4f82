"""The scheduler on real worker threads with a frozen clock: limits, back-off, errors, reconfiguration."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator

import pytest

from router.clock import FrozenClock
from router.errors import (
    AuthenticationError,
    ConfigError,
    CredentialNotFoundError,
    CrmPermanentError,
    CrmTransientError,
    MessageError,
    StateStoreError,
    TransientTransportError,
)
from router.runtime.lane import LaneSpec
from router.runtime.outcome import IDLE, RunKind, RunReport, WorkContext, WorkResult
from router.runtime.policy import SchedulePolicy
from router.service.lanestate import classify
from router.service.observer import Observers
from router.service.scheduler import Scheduler
from tests.unit.service.lanes_kit import (
    WAIT,
    FixedJitter,
    Gate,
    Recorder,
    ScriptedWork,
    SlowToClose,
    builder,
    key,
    keys,
    spec,
)

A, B, C = "a@example.test", "b@example.test", "c@example.test"


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def scheduler(clock: FrozenClock, recorder: Recorder) -> Iterator[Scheduler]:
    sched = Scheduler(clock, observer=recorder, rng=FixedJitter(), max_threads=4, max_run_seconds=60.0)
    yield sched
    sched.stop(grace=WAIT)


def install(scheduler: Scheduler, *pairs: tuple[LaneSpec, ScriptedWork]) -> None:
    scheduler.apply([s for s, _ in pairs], builder({s.key: w for s, w in pairs}))


def run_round(scheduler: Scheduler, recorder: Recorder, expected_total: int) -> int:
    """Tick once and wait until ``expected_total`` runs have been reported in all."""
    started = scheduler.tick()
    recorder.wait_runs(expected_total)
    scheduler.wait_idle(WAIT)
    return started


def test_new_lanes_run_at_once_and_idle_lanes_back_off_to_the_cap(
        scheduler: Scheduler, recorder: Recorder, clock: FrozenClock) -> None:
    work = ScriptedWork.of()
    install(scheduler, (spec(A), work))
    assert recorder.added == [key(A)]
    waits = []
    for total in range(1, 6):
        assert run_round(scheduler, recorder, total) == 1
        report = recorder.reports[-1]
        assert report.kind is RunKind.IDLE
        waits.append(report.next_run_in)
        assert scheduler.tick() == 0, "an idle lane is not due again before its back-off ends"
        clock.advance(report.next_run_in or 0.0)
    assert waits == [2.0, 4.0, 8.0, 8.0, 8.0]
    assert scheduler.lanes()[0].idle_runs == 5


def test_a_lane_with_a_backlog_is_due_again_at_once_and_work_resets_idle_back_off(
        scheduler: Scheduler, recorder: Recorder, clock: FrozenClock) -> None:
    work = ScriptedWork.of(IDLE, IDLE, WorkResult(processed=5, waiting=3), WorkResult(processed=3))
    install(scheduler, (spec(A), work))
    run_round(scheduler, recorder, 1)
    clock.advance(2.0)
    run_round(scheduler, recorder, 2)
    clock.advance(4.0)
    run_round(scheduler, recorder, 3)
    assert recorder.reports[-1].kind is RunKind.WORKED and recorder.reports[-1].next_run_in == 0.0
    run_round(scheduler, recorder, 4)  # No time passes: the backlog makes it due at once.
    assert recorder.reports[-1].next_run_in == 1.0, "after work, the lane polls at the active interval"
    assert scheduler.lanes()[0].idle_runs == 0


def test_a_lane_that_must_wait_is_due_after_its_resume_time_and_frees_the_worker(
        clock: FrozenClock, recorder: Recorder) -> None:
    sched = Scheduler(clock, observer=recorder, rng=FixedJitter(), max_threads=1, max_run_seconds=60.0)
    try:
        waiting = ScriptedWork.of(WorkResult(processed=2, waiting=3, resume_in=40.0), WorkResult(processed=3))
        other = ScriptedWork.of(WorkResult(processed=1))
        install(sched, (spec(A), waiting), (spec(B), other))
        run_round(sched, recorder, 1)
        assert recorder.reports[-1].key == key(A) and recorder.reports[-1].next_run_in == 40.0
        run_round(sched, recorder, 2)
        assert recorder.reports[-1].key == key(B), "the waiting lane's worker went to another lane"
        due = {lane.key: lane.due_in for lane in sched.lanes()}
        assert due == {key(A): 40.0, key(B): 1.0}
        clock.advance(40.0)
        run_round(sched, recorder, 3)
        run_round(sched, recorder, 4)
        report = next(r for r in recorder.reports[2:] if r.key == key(A))
        assert report.kind is RunKind.WORKED and report.result == WorkResult(processed=3)
    finally:
        sched.stop(grace=WAIT)


def test_never_two_workers_in_one_lane(scheduler: Scheduler, recorder: Recorder, clock: FrozenClock) -> None:
    gate = Gate()
    work = ScriptedWork.of(gate, WorkResult(processed=1))
    install(scheduler, (spec(A), work))
    assert scheduler.tick() == 1
    assert gate.entered.wait(WAIT)
    clock.advance(1000.0)
    assert scheduler.wake(key(A))
    assert [scheduler.tick() for _ in range(3)] == [0, 0, 0]
    gate.open()
    recorder.wait_runs(1)
    assert recorder.reports[0].next_run_in == 0.0, "a wake during the run makes the lane due at once"
    run_round(scheduler, recorder, 2)
    assert work.most_inside == 1 and work.calls == 2


def test_max_threads_bounds_the_runs_in_flight(clock: FrozenClock, recorder: Recorder) -> None:
    scheduler = Scheduler(clock, observer=recorder, rng=FixedJitter(), max_threads=2)
    try:
        gates = {m: Gate() for m in (A, B, C)}
        install(scheduler, *((spec(m), ScriptedWork.of(gates[m])) for m in (A, B, C)))
        assert scheduler.tick() == 2
        first = [m for m in (A, B, C) if gates[m].entered.wait(WAIT if m != C else 0)]
        assert first == [A, B], "the oldest due lanes start first, in key order on a tie"
        gates[A].open()
        recorder.wait_runs(1)
        assert scheduler.tick() == 1 and gates[C].entered.wait(WAIT)
        scheduler.configure(max_threads=3, max_run_seconds=60.0, period=1.0)
        gates[B].open()
        gates[C].open()
        recorder.wait_runs(3)
    finally:
        scheduler.stop(grace=WAIT)


def test_profile_connection_limit_holds_back_lanes_of_that_profile_only(
        scheduler: Scheduler, recorder: Recorder) -> None:
    gates = {m: Gate() for m in (A, B, C)}
    install(scheduler, (spec(A, group="shared", limit=1), ScriptedWork.of(gates[A])),
            (spec(B, group="shared", limit=1), ScriptedWork.of(gates[B])),
            (spec(C, group="other"), ScriptedWork.of(gates[C])))
    assert scheduler.tick() == 2
    assert gates[A].entered.wait(WAIT) and gates[C].entered.wait(WAIT)
    assert not gates[B].entered.is_set()
    gates[A].open()
    recorder.wait_runs(1, key(A))
    assert scheduler.tick() == 1 and gates[B].entered.wait(WAIT)
    gates[B].open()
    gates[C].open()
    recorder.wait_runs(3)


def test_server_back_off_delays_every_lane_on_that_server(
        scheduler: Scheduler, recorder: Recorder, clock: FrozenClock) -> None:
    busy = TransientTransportError("ErrorServerBusy", back_off=30.0, code="ErrorServerBusy")
    install(scheduler, (spec(A), ScriptedWork.of(busy, then=WorkResult(processed=1))))
    run_round(scheduler, recorder, 1)
    assert recorder.reports[0].kind is RunKind.THROTTLED and recorder.reports[0].next_run_in == 30.0
    assert scheduler.throttled() == {"ews:mail.example.test": 30.0}
    install(scheduler, (spec(A), ScriptedWork()), (spec(B), ScriptedWork.of(WorkResult(processed=1))),
            (spec(C, server="other.example.test"), ScriptedWork.of(WorkResult(processed=1))))
    assert run_round(scheduler, recorder, 2) == 1
    assert recorder.reports[-1].key == key(C), "only the lane on another server may run"
    clock.advance(30.0)
    run_round(scheduler, recorder, 5)
    assert sorted(keys(recorder.reports[2:])) == [key(A), key(B), key(C)]
    assert recorder.reports[-1].consecutive_failures == 0


def test_crm_back_off_delays_the_lanes_of_that_deployment(
        scheduler: Scheduler, recorder: Recorder, clock: FrozenClock) -> None:
    install(scheduler, (spec(A), ScriptedWork.of(CrmTransientError("429", back_off=5.0))),
            (spec(B, server="other.example.test", crm="main"), ScriptedWork()),
            (spec(C, crm="other"), ScriptedWork()))
    scheduler.configure(max_threads=1, max_run_seconds=60.0, period=1.0)
    run_round(scheduler, recorder, 1)
    assert scheduler.throttled() == {"crm:main": 5.0}
    run_round(scheduler, recorder, 2)
    assert recorder.reports[-1].key == key(C)
    assert scheduler.tick() == 0
    clock.advance(5.0)
    for total in (3, 4, 5):
        run_round(scheduler, recorder, total)
    assert keys(recorder.reports[2:]) == [key(B), key(C), key(A)], "the lane due longest goes first"


def test_transient_failures_retry_with_jittered_exponential_back_off(
        clock: FrozenClock, recorder: Recorder) -> None:
    policy = SchedulePolicy(retry_base=10.0, retry_max=40.0, jitter=0.2)
    scheduler = Scheduler(clock, observer=recorder, rng=FixedJitter(1.0))
    failure = TransientTransportError("connection reset")
    try:
        install(scheduler, (spec(A, policy=policy),
                            ScriptedWork.of(failure, failure, failure, failure, WorkResult(processed=1))))
        for total in range(1, 6):
            run_round(scheduler, recorder, total)
            clock.advance(recorder.reports[-1].next_run_in or 0.0)
        retries = recorder.reports[:4]
        assert [r.kind for r in retries] == [RunKind.RETRY] * 4
        assert [r.next_run_in for r in retries] == pytest.approx([12.0, 24.0, 48.0, 48.0])
        assert [r.consecutive_failures for r in retries] == [1, 2, 3, 4]
        assert recorder.reports[4].kind is RunKind.WORKED and recorder.reports[4].consecutive_failures == 0
    finally:
        scheduler.stop(grace=WAIT)


def test_a_permanent_error_stops_the_lane_until_it_is_reconfigured(
        scheduler: Scheduler, recorder: Recorder, clock: FrozenClock) -> None:
    denied = AuthenticationError("401 Unauthorized", mailbox=A)
    first = ScriptedWork.of(denied)
    install(scheduler, (spec(A), first))
    run_round(scheduler, recorder, 1)
    assert recorder.reports[0].kind is RunKind.STOPPED and recorder.reports[0].next_run_in is None
    assert recorder.stopped == [(key(A), denied)]
    clock.advance(100_000.0)
    assert scheduler.tick() == 0
    install(scheduler, (spec(A), ScriptedWork()))
    assert scheduler.tick() == 0, "the same configuration does not restart a stopped lane"
    assert "401 Unauthorized" in (scheduler.lanes()[0].stopped or "")
    second = ScriptedWork.of(WorkResult(processed=2))
    install(scheduler, (spec(A, fingerprint="v2"), second))
    assert first.closed == 1
    run_round(scheduler, recorder, 2)
    assert second.calls == 1 and recorder.reports[-1].kind is RunKind.WORKED


def test_restart_resumes_a_stopped_lane(scheduler: Scheduler, recorder: Recorder) -> None:
    work = ScriptedWork.of(AuthenticationError("401"), WorkResult(processed=1))
    install(scheduler, (spec(A), work))
    assert not scheduler.restart(key(A)), "a running or healthy lane has nothing to restart"
    run_round(scheduler, recorder, 1)
    assert scheduler.restart(key(A))
    run_round(scheduler, recorder, 2)
    assert recorder.kinds() == [RunKind.STOPPED, RunKind.WORKED]


def test_transient_failures_escalate_to_a_stop_after_the_policy_count(
        scheduler: Scheduler, recorder: Recorder, clock: FrozenClock) -> None:
    policy = SchedulePolicy(retry_base=1.0, jitter=0.0, escalate_after=3)
    install(scheduler, (spec(A, policy=policy), ScriptedWork.of(
        *(TransientTransportError("timeout") for _ in range(5)))))
    for total in range(1, 4):
        run_round(scheduler, recorder, total)
        clock.advance(recorder.reports[-1].next_run_in or 0.0)
    assert recorder.kinds() == [RunKind.RETRY, RunKind.RETRY, RunKind.STOPPED]
    assert recorder.stopped[0][0] == key(A) and scheduler.tick() == 0


def test_a_bug_in_lane_work_is_retried_and_logged_with_its_traceback(
        scheduler: Scheduler, recorder: Recorder, caplog: pytest.LogCaptureFixture) -> None:
    install(scheduler, (spec(A), ScriptedWork.of(ZeroDivisionError("oops"))))
    with caplog.at_level(logging.ERROR, logger="router.service.scheduler"):
        run_round(scheduler, recorder, 1)
    assert recorder.reports[0].kind is RunKind.RETRY
    record = next(r for r in caplog.records if "retrying" in r.getMessage())
    assert record.exc_info is not None and "a@example.test/incoming" in record.getMessage()


def test_work_that_returns_no_work_result_counts_as_a_failure(
        scheduler: Scheduler, recorder: Recorder) -> None:
    install(scheduler, (spec(A), ScriptedWork.of(lambda ctx: None)))  # type: ignore[arg-type,return-value]
    run_round(scheduler, recorder, 1)
    assert recorder.reports[0].kind is RunKind.RETRY
    assert "not a WorkResult" in str(recorder.reports[0].error)


def test_a_run_past_max_thread_execution_is_reported_once_and_goes_on(
        scheduler: Scheduler, recorder: Recorder, clock: FrozenClock,
        caplog: pytest.LogCaptureFixture) -> None:
    gate = Gate()
    install(scheduler, (spec(A), ScriptedWork.of(gate)))
    scheduler.tick()
    assert gate.entered.wait(WAIT)
    clock.advance(59.0)
    scheduler.tick()
    assert recorder.overruns == []
    clock.advance(2.0)
    with caplog.at_level(logging.ERROR):
        scheduler.tick()
        scheduler.tick()
    assert recorder.overruns == [(key(A), 61.0, 60.0)]
    assert any("MaxThreadExecution" in r.getMessage() for r in caplog.records)
    assert scheduler.lanes()[0].running_for == 61.0
    gate.open()
    recorder.wait_runs(1)
    assert recorder.reports[0].kind is RunKind.WORKED and recorder.reports[0].elapsed == 61.0


def test_apply_adds_removes_and_rebuilds_lanes(scheduler: Scheduler, recorder: Recorder) -> None:
    works = {k: ScriptedWork() for k in (A, B)}
    install(scheduler, (spec(A), works[A]), (spec(B), works[B]))
    run_round(scheduler, recorder, 2)
    new_b, new_c = ScriptedWork(), ScriptedWork()
    summary = scheduler.apply([spec(B, fingerprint="v2"), spec(C)],
                              builder({key(B): new_b, key(C): new_c}))
    assert (summary.added, summary.removed, summary.rebuilt) == ((key(C),), (key(A),), (key(B),))
    assert recorder.removed == [key(A)] and works[A].closed == 1 and works[B].closed == 1
    assert [s.key for s in scheduler.lanes()] == [key(B), key(C)]
    run_round(scheduler, recorder, 4)
    assert (new_b.calls, new_c.calls, works[B].calls) == (1, 1, 1)


def test_a_removed_lane_drains_its_run_in_flight_before_it_goes(
        scheduler: Scheduler, recorder: Recorder) -> None:
    gate = Gate()
    work = ScriptedWork.of(gate)
    install(scheduler, (spec(A), work))
    scheduler.tick()
    assert gate.entered.wait(WAIT)
    summary = scheduler.apply([], builder({}))
    assert summary.removed == (key(A),) and scheduler.lanes()[0].retired
    assert recorder.removed == [] and work.closed == 0
    gate.open()
    recorder.wait_for(lambda: recorder.removed == [key(A)])
    assert recorder.reports[0].superseded and scheduler.lanes() == [] and work.closed == 1


def test_a_lane_rebuilt_during_a_run_keeps_one_worker_and_closes_the_old_work_after(
        scheduler: Scheduler, recorder: Recorder) -> None:
    gate = Gate()
    old, new = ScriptedWork.of(gate), ScriptedWork.of(WorkResult(processed=1))
    install(scheduler, (spec(A), old))
    scheduler.tick()
    assert gate.entered.wait(WAIT)
    install(scheduler, (spec(A, fingerprint="v2"), new))
    assert scheduler.tick() == 0 and old.closed == 0
    gate.open()
    recorder.wait_runs(1)
    assert recorder.reports[0].superseded
    scheduler.wait_idle(WAIT)
    assert old.closed == 1
    run_round(scheduler, recorder, 2)
    assert new.calls == 1 and not recorder.reports[1].superseded


def test_a_lane_whose_work_cannot_be_built_is_stopped_alone(
        scheduler: Scheduler, recorder: Recorder) -> None:
    problem = ConfigError("profile 'in' names no EWS URL", mailbox=A, hint="set ews_url")
    good = ScriptedWork.of(WorkResult(processed=1))

    def build(s: LaneSpec) -> ScriptedWork:
        if s.key == key(A):
            raise problem
        return good

    summary = scheduler.apply([spec(A), spec(B)], build)
    assert summary.failed == (key(A),) and recorder.stopped == [(key(A), problem)]
    run_round(scheduler, recorder, 1)
    assert recorder.reports[0].key == key(B)
    assert not scheduler.restart(key(A)), "only a new configuration can fix a lane without work"


def test_wake_resets_idle_back_off_but_not_retry_back_off(
        scheduler: Scheduler, recorder: Recorder) -> None:
    install(scheduler, (spec(A), ScriptedWork.of(IDLE, IDLE, IDLE)),
            (spec(B), ScriptedWork.of(TransientTransportError("timeout"))))
    run_round(scheduler, recorder, 2)
    assert scheduler.tick() == 0
    assert scheduler.wake(key(A)) and scheduler.wake(key(B))
    assert not scheduler.wake(key(C))
    run_round(scheduler, recorder, 3)
    assert recorder.reports[-1].key == key(A) and recorder.reports[-1].next_run_in == 2.0
    assert scheduler.tick() == 0


def test_stop_cancels_runs_in_flight_and_waits_for_them(clock: FrozenClock, recorder: Recorder) -> None:
    scheduler = Scheduler(clock, observer=recorder)
    seen_cancel = []
    gate = Gate()

    def batch(context: WorkContext) -> WorkResult:
        gate.entered.set()
        context.cancel_event.wait(WAIT)
        seen_cancel.append(context.cancelled)
        return WorkResult(processed=1)

    idle = ScriptedWork()
    install(scheduler, (spec(A), ScriptedWork.of(batch)), (spec(B), idle))
    scheduler.tick()
    assert gate.entered.wait(WAIT)
    assert scheduler.stop(grace=WAIT) is True
    assert seen_cancel == [True]
    assert idle.closed == 1
    assert scheduler.tick() == 0, "a stopped scheduler starts nothing"


def test_stop_gives_up_on_a_run_that_outlives_the_grace_period(
        clock: FrozenClock, recorder: Recorder) -> None:
    scheduler = Scheduler(clock, observer=recorder)
    gate = Gate()
    install(scheduler, (spec(A), ScriptedWork.of(gate)))
    scheduler.tick()
    assert gate.entered.wait(WAIT)
    assert scheduler.stop(grace=0.01) is False
    gate.open()
    recorder.wait_runs(1)


def test_stop_fits_in_the_grace_period_however_long_idle_lanes_take_to_close(
        clock: FrozenClock, recorder: Recorder) -> None:
    scheduler = Scheduler(clock, observer=recorder)
    release = threading.Event()
    works = [SlowToClose(release), SlowToClose(release)]
    install(scheduler, (spec(A), works[0]), (spec(B), works[1]))
    assert scheduler.stop(grace=0.2) is True, "no run was in flight"
    assert all(w.entered.is_set() for w in works), "every lane is asked to close, side by side"
    assert not any(w.finished for w in works), "stop returned within the grace, not after the closes"
    release.set()


def test_the_background_loop_runs_due_lanes_without_manual_ticks(
        clock: FrozenClock, recorder: Recorder) -> None:
    scheduler = Scheduler(clock, observer=recorder, period=0.01)
    work = ScriptedWork.of(WorkResult(processed=1, waiting=1), WorkResult(processed=1))
    install(scheduler, (spec(A), work))
    scheduler.start()
    try:
        assert scheduler.alive
        recorder.wait_runs(2)
        assert recorder.kinds() == [RunKind.WORKED, RunKind.WORKED]
        with pytest.raises(RuntimeError, match="already started"):
            scheduler.start()
    finally:
        assert scheduler.stop(grace=WAIT)
    assert not scheduler.alive


def test_a_failing_observer_does_not_break_the_lane(
        clock: FrozenClock, caplog: pytest.LogCaptureFixture) -> None:
    class Broken(Recorder):
        def run_finished(self, report: RunReport) -> None:
            super().run_finished(report)
            raise RuntimeError("health store down")

    broken, healthy = Broken(), Recorder()
    scheduler = Scheduler(clock, observer=Observers([broken, healthy]), rng=FixedJitter())
    try:
        install(scheduler, (spec(A), ScriptedWork.of(WorkResult(processed=1))))
        with caplog.at_level(logging.ERROR):
            scheduler.tick()
            healthy.wait_runs(1)
        assert any("health store down" in (r.exc_text or "") or r.exc_info for r in caplog.records)
        assert scheduler.lanes()[0].last is not None
    finally:
        scheduler.stop(grace=WAIT)


@pytest.mark.parametrize(("error", "kind"), [
    (AuthenticationError("401"), RunKind.STOPPED),
    (CrmPermanentError("caller rejected"), RunKind.STOPPED),
    (CredentialNotFoundError("no credential svc"), RunKind.STOPPED),
    (StateStoreError("database is locked"), RunKind.RETRY),
    (MessageError("one message would not parse"), RunKind.RETRY),
    (TransientTransportError("reset"), RunKind.RETRY),
    (CrmTransientError("503"), RunKind.RETRY),
])
def test_only_errors_an_admin_must_fix_stop_a_lane(error: Exception, kind: RunKind) -> None:
    assert classify(spec(A), None, error).kind is kind


def test_a_run_that_only_its_idle_wait_started_is_a_sweep_and_a_wake_is_not(
        scheduler: Scheduler, recorder: Recorder, clock: FrozenClock) -> None:
    sweeping = SchedulePolicy(active_interval=1.0, idle_max_interval=8.0, jitter=0.0, sweep_interval=60.0)
    work = ScriptedWork.of(IDLE, IDLE, WorkResult(processed=1), IDLE,
                           then=WorkResult(watched=False))
    install(scheduler, (spec(A, policy=sweeping), work))
    run_round(scheduler, recorder, 1)
    assert recorder.reports[-1].next_run_in == 60.0, "idle and watched: the sweep interval at once"
    clock.advance(60.0)
    run_round(scheduler, recorder, 2)
    assert scheduler.wake(key(A))
    run_round(scheduler, recorder, 3)
    clock.advance(1.0)
    run_round(scheduler, recorder, 4)
    assert [c.sweep for c in work.contexts] == [True, True, False, False], "the first run: nothing woke it"
    clock.advance(60.0)
    run_round(scheduler, recorder, 5)
    assert recorder.reports[-1].next_run_in == 4.0, "unwatched: back off step by step"


class CountingTicks(Scheduler):
    """A scheduler that counts its ticks (the background loop's included)."""

    ticks = 0

    def tick(self) -> int:
        self.ticks += 1
        return super().tick()


def test_a_run_that_frees_the_last_worker_starts_the_next_due_lane_at_once(
        clock: FrozenClock, recorder: Recorder) -> None:
    scheduler = Scheduler(clock, observer=recorder, rng=FixedJitter(), max_threads=1, period=60.0)
    install(scheduler, (spec(A), ScriptedWork.of()), (spec(B), ScriptedWork.of()))
    scheduler.start()
    try:
        recorder.wait_runs(2)  # Within WAIT, far less than the period: the first run's end ticked.
        assert {r.key for r in recorder.reports} == {key(A), key(B)}
    finally:
        assert scheduler.stop(grace=WAIT)


def test_a_busy_lane_runs_again_at_once(clock: FrozenClock, recorder: Recorder) -> None:
    scheduler = Scheduler(clock, observer=recorder, rng=FixedJitter(), period=60.0)
    busy = ScriptedWork.of(WorkResult(processed=1, waiting=1), WorkResult(processed=1))
    install(scheduler, (spec(A), busy))
    scheduler.start()
    try:
        recorder.wait_runs(2)
    finally:
        assert scheduler.stop(grace=WAIT)


def test_an_idle_run_that_frees_no_needed_slot_does_not_wake_the_scheduler(
        clock: FrozenClock, recorder: Recorder) -> None:
    scheduler = CountingTicks(clock, observer=recorder, rng=FixedJitter(), max_threads=4, period=60.0)
    idle, gate = Gate(WorkResult()), Gate()
    install(scheduler, (spec(A), ScriptedWork.of(idle)), (spec(B), ScriptedWork.of(gate)))
    scheduler.start()
    try:
        assert idle.entered.wait(WAIT) and gate.entered.wait(WAIT)
        ticks = scheduler.ticks
        idle.opened.set()
        recorder.wait_runs(1, key(A))
        threading.Event().wait(0.3)
        assert scheduler.ticks == ticks, "A's idle end (B still running, workers free) started nothing"
        gate.opened.set()
        recorder.wait_runs(1, key(B))
        assert scheduler.wait_idle(WAIT), "the last run's end wakes wait_idle"
    finally:
        assert scheduler.stop(grace=WAIT)


def test_wait_idle_returns_when_the_last_run_in_flight_ends(clock: FrozenClock, recorder: Recorder) -> None:
    scheduler = Scheduler(clock, observer=recorder, rng=FixedJitter(), period=60.0)
    gate = Gate(WorkResult())
    install(scheduler, (spec(A), ScriptedWork.of(gate)))
    scheduler.start()
    try:
        assert gate.entered.wait(WAIT)
        answers: list[bool] = []
        waiter = threading.Thread(target=lambda: answers.append(scheduler.wait_idle(WAIT)))
        waiter.start()
        gate.opened.set()
        waiter.join(WAIT)
        assert answers == [True], "woken by the run's end, long before the period"
    finally:
        assert scheduler.stop(grace=WAIT)

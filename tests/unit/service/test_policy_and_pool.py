"""Back-off arithmetic, throttling and connection bookkeeping, and the resizable worker pool."""

from __future__ import annotations

import dataclasses
import random
import threading

import pytest

from router.config.profile import Direction
from router.config.settings import SystemSettings
from router.runtime.lane import LaneKey
from router.runtime.policy import FIRST_SWEEP_FLOOR, SchedulePolicy
from router.service.limits import ConnectionLimits
from router.service.pool import WorkerPool
from router.service.throttle import ThrottleBoard
from tests.unit.service.lanes_kit import WAIT, FixedJitter

MIDDLE = FixedJitter()


def test_idle_back_off_doubles_up_to_its_cap() -> None:
    policy = SchedulePolicy(active_interval=1.0, idle_max_interval=900.0, jitter=0.0)
    waits = [policy.idle_delay(n, MIDDLE) for n in range(1, 13)]
    assert waits[:4] == [2.0, 4.0, 8.0, 16.0]
    assert waits[-3:] == [900.0, 900.0, 900.0]
    assert policy.idle_delay(10_000, MIDDLE) == 900.0, "huge streaks neither overflow nor exceed the cap"


def test_retry_back_off_doubles_from_its_base_up_to_its_cap() -> None:
    policy = SchedulePolicy(retry_base=30.0, retry_max=1800.0, jitter=0.0)
    assert [policy.retry_delay(n, MIDDLE) for n in (1, 2, 3, 7, 8, 500)] == [30.0, 60.0, 120.0, 1800.0,
                                                                             1800.0, 1800.0]


def test_jitter_spreads_delays_within_its_fraction() -> None:
    policy = SchedulePolicy(retry_base=100.0, jitter=0.1)
    assert policy.retry_delay(1, FixedJitter(0.0)) == pytest.approx(90.0)
    assert policy.retry_delay(1, FixedJitter(1.0)) == pytest.approx(110.0)
    seeded = [policy.retry_delay(1, random.Random(7)) for _ in range(3)]
    assert all(90.0 <= d <= 110.0 for d in seeded)
    assert policy.worked_delay(5, FixedJitter(1.0)) == 0.0, "a backlog is worked on at once, never spread"


def test_escalation_counts_failures_only_when_configured() -> None:
    assert not SchedulePolicy().escalates(10_000)
    assert [SchedulePolicy(escalate_after=3).escalates(n) for n in (2, 3, 4)] == [False, True, True]


def test_policy_refuses_nonsense() -> None:
    for bad in ({"idle_factor": 0.5}, {"jitter": 1.0}, {"escalate_after": 0}, {"retry_base": -1.0}):
        with pytest.raises(ValueError):
            SchedulePolicy(**bad)  # type: ignore[arg-type]


def test_policy_from_settings_polls_at_the_scheduling_period_with_per_direction_caps() -> None:
    settings = SystemSettings(scheduling_period_seconds=2.0)
    incoming = SchedulePolicy.for_direction(settings, Direction.INCOMING)
    outgoing = SchedulePolicy.for_direction(settings, Direction.OUTGOING, escalate_after=5)
    assert (incoming.active_interval, incoming.sweep_interval) == (2.0, 300.0)
    assert incoming.idle_max_interval == 300.0
    assert (outgoing.sweep_interval, outgoing.idle_max_interval, outgoing.escalate_after) == (300.0, 120.0, 5)


def test_a_lane_that_is_woken_when_busy_sweeps_at_once_when_idle() -> None:
    fixed = random.Random(1)
    settings = SystemSettings(scheduling_period_seconds=1.0, sweep_interval_seconds=240)
    for direction in Direction:
        policy = dataclasses.replace(SchedulePolicy.for_direction(settings, direction), jitter=0.0)
        assert policy.idle_delay(1, fixed) == 240.0 and policy.idle_delay(9, fixed) == 240.0
        assert policy.worked_delay(0, fixed) == 1.0
        # While nothing would wake it (its stream is down, no poll covers it) it backs off step by step.
        assert [policy.idle_delay(n, fixed, watched=False) for n in (1, 2, 3)] == [2.0, 4.0, 8.0]
        assert policy.idle_delay(30, fixed, watched=False) == min(240.0, policy.idle_max_interval)


def test_the_first_sweep_of_thousands_of_lanes_started_together_is_spread_over_the_interval() -> None:
    rng = random.Random(7)
    policy = SchedulePolicy.for_direction(SystemSettings(sweep_interval_seconds=300), Direction.OUTGOING)
    firsts = sorted(policy.first_sweep_delay(rng) for _ in range(4000))
    assert firsts[0] >= 300 * FIRST_SWEEP_FLOOR and firsts[-1] <= 300 * (1 + policy.jitter)
    per_minute = [sum(1 for f in firsts if m * 60 <= f < (m + 1) * 60) for m in range(1, 5)]
    assert max(per_minute) < 1.3 * min(per_minute), "even, not a burst around 300 s"
    later = [policy.idle_delay(2, rng) for _ in range(100)]
    assert all(270 <= d <= 330 for d in later), "later sweeps keep the interval"
    assert policy.first_sweep_delay(MIDDLE, watched=False) == policy.idle_delay(1, MIDDLE, watched=False)
    exact = dataclasses.replace(policy, jitter=0.0)
    assert exact.first_sweep_delay(rng) == 300.0, "no jitter: the interval itself"


def test_incoming_without_notifications_backs_off_step_by_step_up_to_its_cap() -> None:
    fixed = random.Random(1)
    settings = SystemSettings.model_validate({"scheduling_period_seconds": 1.0,
                                              "incoming": {"notification_streams": 0}})
    policy = dataclasses.replace(SchedulePolicy.for_direction(settings, Direction.INCOMING), jitter=0.0)
    assert [policy.idle_delay(n, fixed) for n in (1, 2, 3)] == [2.0, 4.0, 8.0]
    assert policy.idle_delay(30, fixed) == 900.0


def test_lane_keys_ignore_address_case() -> None:
    assert LaneKey("Alice@Example.TEST ", Direction.INCOMING) == LaneKey("alice@example.test", "incoming")  # type: ignore[arg-type]
    assert str(LaneKey("a@x.test", Direction.OUTGOING)) == "a@x.test/outgoing"


def test_throttle_board_keeps_the_longest_back_off_per_scope() -> None:
    board = ThrottleBoard()
    board.block("ews:a", 30.0)
    board.block("ews:a", 10.0)
    board.block("crm:main", 5.0)
    assert board.blocked_until(["ews:a", "crm:main"], now=0.0) == 30.0
    assert board.blocked_until(["crm:main"], now=5.0) is None
    board.forget_expired(now=6.0)
    assert board.active(now=6.0) == {"ews:a": 24.0}


def test_connection_limits_count_slots_and_honour_changed_limits() -> None:
    limits = ConnectionLimits()
    assert limits.try_acquire("p", 2) and limits.try_acquire("p", 2)
    assert not limits.try_acquire("p", 2)
    limits.release("p")
    assert not limits.try_acquire("p", 1), "a lowered limit admits nobody until slots are given back"
    limits.release("p")
    assert limits.in_use("p") == 0 and limits.try_acquire("p", 1)
    with pytest.raises(RuntimeError, match="released more often"):
        limits.release("q")


def test_worker_pool_grows_shrinks_and_shuts_down() -> None:
    pool = WorkerPool(1, name="test-worker")
    release = threading.Event()
    names: list[str] = []
    started = threading.Semaphore(0)

    def job() -> None:
        names.append(threading.current_thread().name)
        started.release()
        release.wait(WAIT)

    pool.resize(3)
    for _ in range(3):
        pool.submit(job)
    assert all(started.acquire(timeout=WAIT) for _ in range(3)), "three workers run three jobs at once"
    assert sorted(names) == ["test-worker-1", "test-worker-2", "test-worker-3"]
    pool.resize(1)
    assert pool.size == 1
    release.set()
    assert pool.shutdown(timeout=WAIT)
    with pytest.raises(RuntimeError, match="shut down"):
        pool.submit(job)


def test_worker_pool_survives_a_failing_job(caplog: pytest.LogCaptureFixture) -> None:
    pool = WorkerPool(1)
    done = threading.Event()
    pool.submit(lambda: 1 / 0 and None)
    pool.submit(done.set)
    assert done.wait(WAIT)
    assert pool.shutdown(timeout=WAIT)
    assert any("worker job failed" in r.getMessage() for r in caplog.records)

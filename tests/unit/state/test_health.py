"""Mailbox health: Not Run, Success, Failure; consecutive failures; stop, resume, recovery; due times."""

from __future__ import annotations

from datetime import timedelta

from router.clock import FrozenClock
from router.state import Direction, HealthStatus, StateStore

from .conftest import T0

BOX = "user@x.test"
IN, OUT = Direction.INCOMING, Direction.OUTGOING


def test_a_mailbox_that_never_ran_is_not_run(store: StateStore) -> None:
    health = store.health.get(BOX, IN)
    assert (health.status, health.consecutive_failures, health.stopped) == (HealthStatus.NOT_RUN, 0, False)
    assert health.is_due(T0) and store.health.all() == []


def test_failures_count_up_and_a_success_resets_them(store: StateStore, clock: FrozenClock) -> None:
    first = store.health.record_failure(BOX, IN, error="server busy", code="ErrorServerBusy",
                                        next_due_at=T0 + timedelta(seconds=30))
    assert first.before.status is HealthStatus.NOT_RUN and not first.recovered
    clock.advance(30)
    second = store.health.record_failure(BOX, IN, error="timed out", code="ErrorTimeoutExpired")
    after = second.after
    assert (after.status, after.consecutive_failures, after.last_error, after.last_error_code) == (
        HealthStatus.FAILURE, 2, "timed out", "ErrorTimeoutExpired")
    assert after.last_error_at == clock.now() and after.last_success_at is None
    clock.advance(30)
    success = store.health.record_success(BOX, IN, next_due_at=clock.now() + timedelta(minutes=1))
    assert success.recovered
    assert (success.after.status, success.after.consecutive_failures) == (HealthStatus.SUCCESS, 0)
    assert success.after.last_success_at == clock.now() and success.after.last_error == "timed out"
    assert not store.health.record_success(BOX, IN).recovered


def test_directions_are_separate(store: StateStore) -> None:
    store.health.record_failure(BOX, OUT, error="Send As denied", code="ErrorSendAsDenied")
    assert store.health.get(BOX, IN).status is HealthStatus.NOT_RUN
    assert store.health.get(BOX, OUT).status is HealthStatus.FAILURE
    assert [(h.mailbox, h.direction) for h in store.health.all()] == [(BOX, OUT)]
    assert store.health.all(IN) == []


def test_a_stopped_mailbox_is_not_due_until_resumed(store: StateStore) -> None:
    store.health.record_failure(BOX, IN, error="401", code="Unauthorized")
    stopped = store.health.stop(BOX, IN, "authentication failed: fix the password")
    assert stopped.newly_stopped and stopped.after.stopped_reason == "authentication failed: fix the password"
    assert not store.health.stop(BOX, IN, "again").newly_stopped
    assert not store.health.get(BOX, IN).is_due(T0) and store.health.due(IN) == []
    resumed = store.health.resume(BOX, IN)
    assert not resumed.after.stopped and resumed.after.consecutive_failures == 0
    assert not resumed.recovered  # still failing until a run succeeds
    assert store.health.record_success(BOX, IN).recovered


def test_due_honours_the_next_due_time(store: StateStore, clock: FrozenClock) -> None:
    store.health.record_success("a@x.test", IN, next_due_at=T0 + timedelta(minutes=5))
    store.health.record_success("b@x.test", IN, next_due_at=T0)
    store.health.set_next_due("c@x.test", IN, None)
    store.health.record_success("d@x.test", OUT)
    assert [h.mailbox for h in store.health.due(IN)] == ["b@x.test", "c@x.test"]
    clock.advance(300)
    assert [h.mailbox for h in store.health.due(IN)] == ["a@x.test", "b@x.test", "c@x.test"]
    assert store.health.get("c@x.test", IN).status is HealthStatus.NOT_RUN


def test_a_huge_server_error_is_stored_bounded_with_a_digest(store: StateStore) -> None:
    huge = "<soap:Fault>" + "A" * 5_000_000 + "</soap:Fault>"
    store.health.record_failure(BOX, IN, error=huge, code="ErrorInternalServerError")
    stored = store.health.get(BOX, IN).last_error or ""
    assert stored.startswith("<soap:Fault>AAAA") and len(stored) < 4300
    assert f"{len(huge)} in all, sha256 " in stored


def test_a_failure_streak_remembers_when_it_began(store: StateStore, clock: FrozenClock) -> None:
    store.health.record_success(BOX, IN)
    clock.advance(60)
    began = clock.now()
    assert store.health.record_failure(BOX, IN, error="busy").after.failing_since == began
    clock.advance(60)
    assert store.health.record_failure(BOX, IN, error="busy").after.failing_since == began
    assert store.health.get(BOX, OUT).failing_since is None
    clock.advance(60)
    assert store.health.record_success(BOX, IN).after.failing_since is None
    clock.advance(60)
    assert store.health.record_failure(BOX, IN, error="again").after.failing_since == clock.now()
    assert store.health.resume(BOX, IN).after.failing_since is None


def test_coalesced_successes_write_new_and_healthy_rows_and_leave_failing_or_stopped_ones(
        store: StateStore, clock: FrozenClock) -> None:
    store.health.record_success("healthy@x.test", IN)
    store.health.record_failure("failing@x.test", IN, error="server busy")
    store.health.record_success("stopped@x.test", IN)
    store.health.stop("stopped@x.test", IN, "bad password")
    clock.advance(60)
    boxes = ("new@x.test", "healthy@x.test", "failing@x.test", "stopped@x.test")
    runs = {(box, IN): clock.now() for box in boxes}
    assert store.health.record_successes(runs) == 2
    for box in ("new@x.test", "healthy@x.test"):
        health = store.health.get(box, IN)
        assert (health.status, health.last_success_at, health.last_run_at) == (
            HealthStatus.SUCCESS, clock.now(), clock.now())
    assert store.health.get("failing@x.test", IN).status is HealthStatus.FAILURE, "its own story stands"
    stopped = store.health.get("stopped@x.test", IN)
    assert stopped.stopped and stopped.last_success_at == clock.now() - timedelta(seconds=60)
    assert store.health.record_successes({}) == 0

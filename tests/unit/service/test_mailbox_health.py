"""The health monitor in the real service with scripted lane work: transient failures, escalation to a
stop with an alert, gauges and counters, degraded health, and a stop resumed from the store."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest

from router.clock import FrozenClock
from router.config import Direction, MailboxAssignment, PublishedConfig, publish
from router.errors import AuthenticationError, MailboxStoppedError, TransientTransportError
from router.home import Home
from router.runtime.metrics import Metrics
from router.runtime.outcome import LaneWork, RunKind, WorkResult
from router.runtime.registry import LaneWorkRegistry
from router.service.directory import MailboxDirectory
from router.service.mailbox_health import SUCCESS_FLUSH_SECONDS, MailboxHealthMonitor, stop_alert_kind
from router.service.service import Service
from router.state import Direction as StateDirection
from router.state import HealthStatus, StateStore
from tests.unit.service.conftest import PROFILES, SETTINGS, Publisher
from tests.unit.service.lanes_kit import WAIT, FixedJitter, Recorder, ScriptedWork

ALICE = "alice@example.test"
ONE_MAILBOX = f'[[users]]\naddress = "{ALICE}"\noutgoing = false\n'
BUSY = TransientTransportError("ErrorServerBusy: the server is busy", mailbox=ALICE)


class Kit:
    """A service whose only lane plays ``work``, with the monitor on a state store of its own."""

    def __init__(self, home: Home, clock: FrozenClock, work: ScriptedWork) -> None:
        self.store = StateStore.open_home(home, clock)
        self.metrics = Metrics()
        self.recorder = Recorder()
        self.clock = clock
        directory = MailboxDirectory(store=self.store, clock=clock)
        self.monitor = MailboxHealthMonitor(self.store, self.metrics, directory)
        registry = LaneWorkRegistry()
        registry.register(Direction.INCOMING, self._factory(work))
        self.service = Service(home, registry, clock=clock, metrics=self.metrics, rng=FixedJitter(),
                               observers=[self.recorder], directory=directory, monitor=self.monitor)

    @staticmethod
    def _factory(work: ScriptedWork) -> Callable[[MailboxAssignment, Direction, PublishedConfig], LaneWork]:
        def build(assignment: MailboxAssignment, direction: Direction, config: PublishedConfig) -> LaneWork:
            return work
        return build

    def series(self, name: str, **labels: str) -> float | None:
        value = self.metrics.registry.get_sample_value(name, labels)
        return float(value) if value is not None else None

    def close(self) -> None:
        self.service.stop(grace=WAIT)
        self.store.close()


def publish_at(publisher: Publisher, clock: FrozenClock, settings: str = SETTINGS) -> int:
    """Publish one mailbox at the frozen clock's time (stops are compared with publication times)."""
    publisher.directory.mkdir(parents=True, exist_ok=True)
    files = (("profiles.toml", PROFILES), ("settings.toml", settings), ("mailboxes.toml", ONE_MAILBOX))
    for name, text in files:
        (publisher.directory / name).write_text(text)
    return publish(publisher.home, publisher.directory, clock=clock)


@pytest.fixture
def make(home: Home, frozen: FrozenClock) -> Iterator[Callable[..., Kit]]:
    kits: list[Kit] = []

    def factory(*steps: WorkResult | BaseException, then: WorkResult | None = None) -> Kit:
        kit = Kit(home, frozen, ScriptedWork.of(*steps, then=then))
        kits.append(kit)
        return kit

    yield factory
    for kit in kits:
        kit.close()


def test_transient_failures_count_up_and_escalate_to_a_stop_with_an_alert(
        make: Callable[..., Kit], publisher: Publisher, frozen: FrozenClock) -> None:
    publish_at(publisher, frozen, SETTINGS + "escalate_after_failures = 2\n")
    kit = make(BUSY, BUSY, WorkResult(processed=1))
    kit.service.start()
    assert kit.recorder.wait_runs(1)[0].kind is RunKind.RETRY
    health = kit.store.health.get(ALICE, StateDirection.INCOMING)
    assert (health.status, health.consecutive_failures, health.stopped) == (HealthStatus.FAILURE, 1, False)
    assert kit.series("email_router_retries_total", mailbox=ALICE, direction="incoming") == 1.0
    assert kit.series("email_router_mailbox_consecutive_failures", mailbox=ALICE, direction="incoming") == 1.0
    kit.clock.advance(60)
    assert kit.recorder.wait_runs(2)[1].kind is RunKind.STOPPED
    kit.recorder.wait_for(lambda: bool(kit.recorder.stopped))
    (alert,) = kit.store.alerts.open_alerts()
    assert alert.kind == stop_alert_kind(Direction.INCOMING) and alert.mailbox == ALICE
    assert "stopped after 2 failures in a row; the last: ErrorServerBusy" in alert.text
    assert kit.store.health.get(ALICE, StateDirection.INCOMING).stopped
    assert kit.series("email_router_mailbox_status", mailbox=ALICE, direction="incoming",
                      email_router_mailbox_status="failure") == 1.0
    probe = kit.service.health()
    assert probe.ok and probe.degraded and "mailbox_stopped_incoming alice@example.test" in probe.detail

    kit.store.health.resume(ALICE, StateDirection.INCOMING)  # As `email-router mailbox resume` does.
    assert kit.recorder.wait_runs(3)[2].kind is RunKind.WORKED, "the service's periodic check restarts it"
    kit.recorder.wait_for(lambda: not kit.store.alerts.open_alerts())
    assert kit.store.alerts.get(alert.id).resolution == "recovered"  # type: ignore[union-attr]
    assert kit.store.health.get(ALICE, StateDirection.INCOMING).status is HealthStatus.SUCCESS
    assert kit.service.health().degraded is False
    assert kit.series("email_router_mailbox_status", mailbox=ALICE, direction="incoming",
                      email_router_mailbox_status="success") == 1.0


def test_a_stop_is_held_after_a_restart_until_a_newer_version_changes_the_lane(
        make: Callable[..., Kit], publisher: Publisher, frozen: FrozenClock) -> None:
    publish_at(publisher, frozen)
    first = make(AuthenticationError("bad password", mailbox=ALICE))
    first.service.start()
    first.recorder.wait_for(lambda: bool(first.recorder.stopped))
    first.service.stop(grace=WAIT)

    again = make(WorkResult(processed=1))
    again.service.start()
    again.recorder.wait_for(lambda: bool(again.recorder.stopped))
    (held,) = again.recorder.stopped
    assert isinstance(held[1], MailboxStoppedError) and "bad password" in held[1].message
    (alert,) = again.store.alerts.open_alerts()
    assert alert.occurrences == 1

    frozen.advance(5)
    publish_at(publisher, frozen, SETTINGS + "cache_capacity = 7\n")
    again.service.reload_now()
    assert again.recorder.wait_runs(2)[1].kind is RunKind.WORKED
    again.recorder.wait_for(lambda: not again.store.alerts.open_alerts())
    assert again.store.alerts.get(alert.id).resolution == "recovered"  # type: ignore[union-attr]


def test_a_mailbox_no_longer_served_resolves_its_alert(make: Callable[..., Kit], publisher: Publisher,
                                                        frozen: FrozenClock) -> None:
    publish_at(publisher, frozen)
    kit = make(AuthenticationError("bad password", mailbox=ALICE))
    kit.service.start()
    kit.recorder.wait_for(lambda: bool(kit.recorder.stopped))
    (alert,) = kit.store.alerts.open_alerts()
    publisher.directory.joinpath("mailboxes.toml").write_text("")
    publish(publisher.home, publisher.directory, clock=frozen)
    kit.service.reload_now()
    kit.recorder.wait_for(lambda: bool(kit.recorder.removed))
    assert kit.store.alerts.open_alerts() == []
    assert kit.store.alerts.get(alert.id).resolution == "no longer served"  # type: ignore[union-attr]


def test_first_and_later_successes_are_coalesced_and_failures_written_at_once(
        make: Callable[..., Kit], publisher: Publisher, frozen: FrozenClock) -> None:
    publish_at(publisher, frozen)
    kit = make(WorkResult(processed=1), WorkResult(processed=1), BUSY, then=None)
    kit.service.start()
    kit.recorder.wait_runs(1)
    first = kit.clock.now()
    assert kit.series("email_router_mailbox_status", mailbox=ALICE, direction="incoming",
                      email_router_mailbox_status="success") == 1.0, "the gauges show it at once"
    kit.monitor.flush()  # The change from Not Run (the service's periodic flush may have written it).
    stored = kit.store.health.get(ALICE, StateDirection.INCOMING)
    assert (stored.status, stored.last_success_at, stored.last_run_at) == (HealthStatus.SUCCESS, first, first)

    kit.clock.advance(10)
    kit.recorder.wait_runs(2)
    stored = kit.store.health.get(ALICE, StateDirection.INCOMING)
    assert (stored.status, stored.last_success_at) == (HealthStatus.SUCCESS, first), "no write of its own"
    shown = kit.series("email_router_mailbox_last_success_timestamp_seconds", mailbox=ALICE,
                       direction="incoming")
    assert shown == kit.clock.now().timestamp(), "the gauge shows the success at once"
    second = kit.clock.now()
    assert kit.monitor.flush() == 1
    assert kit.store.health.get(ALICE, StateDirection.INCOMING).last_success_at == second

    kit.clock.advance(10)
    assert kit.recorder.wait_runs(3)[2].kind is RunKind.RETRY
    failed = kit.store.health.get(ALICE, StateDirection.INCOMING)
    assert (failed.status, failed.consecutive_failures) == (HealthStatus.FAILURE, 1), "a change: at once"
    assert kit.monitor.flush() == 0


def test_coalesced_successes_are_written_by_the_service_once_due_without_further_runs(
        make: Callable[..., Kit], publisher: Publisher, frozen: FrozenClock) -> None:
    publish_at(publisher, frozen)
    kit = make(WorkResult(processed=1), then=WorkResult())
    kit.service.start()
    kit.recorder.wait_runs(1)
    ran = kit.clock.now()
    kit.clock.advance(SUCCESS_FLUSH_SECONDS + 1)

    def written() -> bool:
        health = kit.store.health.get(ALICE, StateDirection.INCOMING)
        return health.status is HealthStatus.SUCCESS and (health.last_success_at or ran) >= ran

    kit.recorder.wait_for(written)


def test_a_change_from_not_run_is_written_by_the_periodic_flush_without_the_clock_moving(
        make: Callable[..., Kit], publisher: Publisher, frozen: FrozenClock) -> None:
    publish_at(publisher, frozen)
    kit = make(WorkResult(processed=1), then=WorkResult())
    kit.service.start()
    kit.recorder.wait_runs(1)
    # `status` and the console read the store: the first success is there within about a second
    # (FIRST_SUCCESS_FLUSH_SECONDS of real time), although the service's clock stands still.
    deadline = time.monotonic() + WAIT
    while kit.store.health.get(ALICE, StateDirection.INCOMING).status is not HealthStatus.SUCCESS:
        assert time.monotonic() < deadline, "the change from Not Run was never written"
        time.sleep(0.05)
    before = kit.store.health.get(ALICE, StateDirection.INCOMING).last_success_at
    kit.clock.advance(10)
    kit.recorder.wait_runs(2)
    assert kit.monitor.flush(due_only=True) == 0, "a later success waits for SUCCESS_FLUSH_SECONDS"
    assert kit.store.health.get(ALICE, StateDirection.INCOMING).last_success_at == before

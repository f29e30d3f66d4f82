"""The service in-process: published configuration to lanes, hot reload, probes, metrics, logs, stop."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from router.clock import FrozenClock
from router.config import Direction, MailboxAssignment, PublishedConfig, published_path
from router.config.settings import SystemSettings
from router.errors import PublishedConfigError
from router.home import Home
from router.runtime.lane import LaneKey
from router.runtime.outcome import LaneWork, RunKind, WorkContext, WorkResult
from router.runtime.registry import LaneWorkRegistry
from router.service.logs import ServiceLogging
from router.service.reload import ReloadKind
from router.service.service import Service
from router.vault import PasswordCredential
from tests.unit.service.conftest import CANARY, MAILBOXES, SETTINGS, Publisher
from tests.unit.service.lanes_kit import WAIT, FixedJitter, Recorder, ScriptedWork, SlowToClose

IN, OUT = Direction.INCOMING, Direction.OUTGOING
ALICE, SUPPORT, CAROL = "alice@example.test", "support@example.test", "carol@example.test"
leak = logging.getLogger("router.test.pipeline")


class Factories:
    """Lane-work factories for the registry that keep every work they built, by lane and version."""

    def __init__(self) -> None:
        self.built: dict[tuple[LaneKey, int], ScriptedWork] = {}
        self.closed: list[str] = []

    def registry(self, *directions: Direction) -> LaneWorkRegistry:
        registry = LaneWorkRegistry()
        for direction in directions or (IN, OUT):
            registry.register(direction, self.build)
        registry.call_on_close(lambda: self.closed.append("resources"))
        return registry

    def build(self, assignment: MailboxAssignment, direction: Direction, config: PublishedConfig) -> LaneWork:
        work = ScriptedWork.of(WorkResult(processed=1, waiting=0))
        self.built[(LaneKey(assignment.address, direction), config.version)] = work
        return work


@pytest.fixture
def factories() -> Factories:
    return Factories()


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def service(home: Home, factories: Factories, recorder: Recorder, frozen: FrozenClock) -> Iterator[Service]:
    svc = Service(home, factories.registry(), clock=frozen, observers=[recorder], rng=FixedJitter())
    yield svc
    svc.stop(grace=WAIT)


def test_start_without_a_published_configuration_says_to_publish(service: Service,
                                                                   publisher: Publisher) -> None:
    with pytest.raises(PublishedConfigError) as caught:
        service.start()
    assert "run `email-router publish` first" in caught.value.hint
    assert caught.value.path == str(service.home.published_dir)


def test_start_runs_every_lane_and_reports_health_readiness_and_metrics(
        service: Service, publisher: Publisher, recorder: Recorder, factories: Factories) -> None:
    publisher.publish()
    assert not service.ready().ok and not service.health().ok
    service.start()
    reports = recorder.wait_runs(3)
    assert sorted(r.key for r in reports) == [LaneKey(ALICE, IN), LaneKey(ALICE, OUT), LaneKey(SUPPORT, IN)]
    assert all(r.kind is RunKind.WORKED for r in reports)
    assert service.health().ok and service.ready().ok
    assert service.ready().detail == "configuration version 1, 3 lane(s), 0 stopped"
    exposition = service.metrics.exposition().decode()
    assert 'email_router_mailbox_backlog{direction="incoming",mailbox="alice@example.test"} 0.0' in exposition
    assert service.stop(grace=WAIT)
    assert factories.closed == ["resources"]
    assert not service.ready().ok and not service.health().ok


def test_a_new_version_adds_removes_and_rebuilds_lanes_and_forgets_metrics(
        service: Service, publisher: Publisher, recorder: Recorder, factories: Factories) -> None:
    publisher.publish()
    service.start()
    recorder.wait_runs(3)
    dave = '\n[[users]]\naddress = "dave@example.test"\nincoming = false\n'
    publisher.publish(mailboxes=MAILBOXES.replace(SUPPORT, CAROL) + dave)
    outcome = service.reload_now()
    assert (outcome.kind, outcome.version) == (ReloadKind.APPLIED, 2)
    recorder.wait_for(lambda: LaneKey(SUPPORT, IN) in recorder.removed)
    assert sorted(lane.key.mailbox for lane in service.lanes()) == [ALICE, ALICE, CAROL, "dave@example.test"]
    assert (LaneKey(ALICE, IN), 2) not in factories.built, "unchanged lanes keep their work"
    assert factories.built[(LaneKey(CAROL, IN), 2)] is not None
    recorder.wait_runs(1, LaneKey(CAROL, IN))
    assert SUPPORT not in service.metrics.exposition().decode()
    assert service.config is not None and service.config.version == 2


def test_a_corrupt_new_version_leaves_the_running_one_in_service(
        service: Service, publisher: Publisher, recorder: Recorder) -> None:
    publisher.publish()
    service.start()
    recorder.wait_runs(3)
    # Written in place of a publish: a valid version 2 would race the watcher, which checks every 50 ms.
    published_path(service.home, 2).write_text("{}")
    assert service.reload_now().kind is ReloadKind.REFUSED
    assert len(service.lanes()) == 3 and service.ready().ok
    assert service.config is not None and service.config.version == 1


def test_only_directions_with_a_pipeline_are_scheduled(
        home: Home, publisher: Publisher, factories: Factories, frozen: FrozenClock,
        caplog: pytest.LogCaptureFixture) -> None:
    publisher.publish()
    svc = Service(home, factories.registry(OUT), clock=frozen)
    try:
        with caplog.at_level(logging.WARNING, logger="router.service.service"):
            svc.start()
        assert [lane.key for lane in svc.lanes()] == [LaneKey(ALICE, OUT)]
        assert "no incoming pipeline is installed" in caplog.text
        assert svc.wake(LaneKey(ALICE, OUT)) and not svc.wake(LaneKey(ALICE, IN))
    finally:
        svc.stop(grace=WAIT)


def test_a_new_version_that_cannot_log_is_refused_whole(
        home: Home, publisher: Publisher, factories: Factories, frozen: FrozenClock,
        quiet_root_logger: None, tmp_path: Path) -> None:
    publisher.publish()
    logs = ServiceLogging(home, publisher_settings())
    svc = Service(home, factories.registry(), clock=frozen, logs=logs)
    try:
        svc.start()
        blocker = tmp_path / "file"
        blocker.write_text("")
        publisher.publish(mailboxes="", settings=SETTINGS + f'log_file = "{blocker}/router.log"\n')
        outcome = svc.reload_now()
        assert outcome.kind is ReloadKind.REFUSED and "log file cannot be written" in str(outcome.error)
        assert len(svc.lanes()) == 3 and logs.path == home.log_dir / "email-router.log"
    finally:
        svc.stop(grace=WAIT)
        logs.close()


def publisher_settings() -> SystemSettings:
    return SystemSettings(log_level=2)


def test_secrets_of_every_version_are_scrubbed_from_the_log(
        home: Home, publisher: Publisher, frozen: FrozenClock, quiet_root_logger: None) -> None:
    def careless(assignment: MailboxAssignment, direction: Direction, config: PublishedConfig) -> LaneWork:
        credential = config.credential("svc")
        assert isinstance(credential, PasswordCredential)
        password = credential.password.get_secret_value()

        def work(context: WorkContext) -> WorkResult:
            leak.error("connecting as svc with %s", password)
            return WorkResult(processed=1)

        return work

    registry = LaneWorkRegistry()
    registry.register(IN, careless)
    recorder = Recorder()
    publisher.publish(mailboxes='[[users]]\naddress = "alice@example.test"\n')
    logs = ServiceLogging(home, publisher_settings())
    svc = Service(home, registry, clock=frozen, logs=logs, observers=[recorder])
    try:
        svc.start()
        recorder.wait_runs(1)
        publisher.set_password("fresh-secret-99")
        version = publisher.publish(mailboxes='[[users]]\naddress = "alice@example.test"\n')
        # The background watcher may have applied the new version already; either way it must run.
        outcome = svc.reload_now()
        assert outcome.kind is ReloadKind.APPLIED or outcome.version == version == svc.config.version
        recorder.wait_runs(2)
    finally:
        svc.stop(grace=WAIT)
        logs.close()
    text = (home.log_dir / "email-router.log").read_text()
    assert CANARY not in text and "fresh-secret-99" not in text
    assert text.count("connecting as svc with ***") == 2
    assert "mailbox=alice@example.test lane=alice@example.test/incoming" in text


def test_run_until_signalled_returns_after_a_stop_request(
        service: Service, publisher: Publisher, recorder: Recorder) -> None:
    publisher.publish()

    def stop_after_first_runs() -> None:
        recorder.wait_runs(3)
        service.request_stop()

    helper = threading.Thread(target=stop_after_first_runs)
    helper.start()
    assert service.run_until_signalled(grace=WAIT) is True
    helper.join()
    assert not service.scheduler.alive


def test_stop_fits_in_the_grace_period_when_idle_lanes_are_slow_to_close(
        home: Home, publisher: Publisher, recorder: Recorder, frozen: FrozenClock) -> None:
    release = threading.Event()
    built: list[SlowToClose] = []

    def build(assignment: MailboxAssignment, direction: Direction, config: PublishedConfig) -> LaneWork:
        built.append(SlowToClose(release))
        return built[-1]

    registry = LaneWorkRegistry()
    registry.register(IN, build)
    service = Service(home, registry, clock=frozen, observers=[recorder], rng=FixedJitter())
    publisher.publish()
    service.start()
    recorder.wait_runs(1)
    try:
        assert service.stop(grace=0.3) is True
        assert built and all(w.entered.is_set() for w in built), "every idle lane was asked to close"
        assert not any(w.finished for w in built), "stop returned within its grace, not after the closes"
    finally:
        release.set()

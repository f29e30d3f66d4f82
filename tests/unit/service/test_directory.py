"""The mailbox directory: Load Data through the CRM source, fallbacks and alerts when it fails, storage."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from router.clock import FrozenClock
from router.config import PublishedConfig, load_published
from router.config.profile import Direction
from router.config.settings import SystemSettings
from router.crm.codes import MailboxTestStatus
from router.crm.embedded import EmbeddedGateway
from router.crm.gateway import CrmGateway, MailboxInfo, MailboxTestResult
from router.errors import CrmRecordNotFoundError, CrmTransientError
from router.home import Home
from router.runtime.registry import LaneWorkRegistry
from router.service.crm_status import CrmMailboxStatus
from router.service.directory import LOAD_DATA_ALERT, MailboxDirectory
from router.service.service import Service
from router.state import NO_MAILBOX, StateStore
from router.state import Direction as StateDirection
from tests.support.crm import crm_clock, crm_org, embedded_crm, embedded_gateway
from tests.unit.service.conftest import Publisher
from tests.unit.service.lanes_kit import WAIT

__all__ = ["crm_clock", "crm_org", "embedded_crm", "embedded_gateway"]
BINDING = '[[users]]\naddress = "alice@contoso.com"\noutgoing = false\n'


class FlakyCrm:
    """A CRM source that can be taken down, as a Dynamics organisation that stops answering."""

    def __init__(self, gateway: CrmGateway) -> None:
        self.gateway = gateway
        self.down = False

    def __call__(self, config: PublishedConfig, deployment: str) -> CrmGateway:
        if self.down:
            raise CrmTransientError("the CRM did not answer (HTTP 503)", back_off=30.0)
        return self.gateway


@pytest.fixture
def store(home: Home, crm_clock: FrozenClock) -> Iterator[StateStore]:
    home.root.mkdir(parents=True, exist_ok=True)
    with StateStore.open_home(home, crm_clock) as opened:
        yield opened


def test_load_data_is_merged_stored_and_replaced_by_fallbacks_while_the_crm_is_down(
        publisher: Publisher, embedded_gateway: EmbeddedGateway, store: StateStore,
        crm_clock: FrozenClock) -> None:
    publisher.publish(mailboxes=BINDING)
    config = load_published(publisher.home)
    source = FlakyCrm(embedded_gateway)
    directory = MailboxDirectory(source, store=store, clock=crm_clock)

    first = directory.resolve(config)
    served = {a.address: (a.incoming_profile, a.outgoing_profile) for a in first.assignments}
    assert served == {"alice@contoso.com": ("in", None), "bert@contoso.com": ("in", "out"),
                      "sales@contoso.com": ("in", "out"), "support@contoso.com": ("in", "out")}
    assert first.crm_answered and first.crm_errors == {}
    rows = {(r.mailbox, r.direction): r for r in store.directory.all()}
    alice_out = rows[("alice@contoso.com", StateDirection.OUTGOING)]
    assert (alice_out.served, alice_out.source, alice_out.config_version) == (False, "both", 1)

    source.down = True
    second = directory.resolve(config)
    assert {a.address for a in second.assignments} == set(served), "the last good answer is kept"
    assert not second.crm_answered and "its last good answer" in second.crm_errors["main"]
    (alert,) = store.alerts.open_alerts()
    assert (alert.kind, alert.mailbox) == (f"{LOAD_DATA_ALERT}:main", NO_MAILBOX)
    assert "the CRM did not answer (HTTP 503)" in alert.text

    cold = MailboxDirectory(source, clock=crm_clock).resolve(config)
    assert [a.address for a in cold.assignments] == ["alice@contoso.com"], "only the published bindings"
    assert "its published bindings" in cold.crm_errors["main"]

    source.down = False
    assert directory.resolve(config).crm_answered
    assert store.alerts.open_alerts() == []
    assert store.alerts.get(alert.id).resolution == "recovered"  # type: ignore[union-attr]


def test_without_a_crm_source_the_published_bindings_are_served(publisher: Publisher,
                                                                crm_clock: FrozenClock) -> None:
    publisher.publish(mailboxes=BINDING)
    view = MailboxDirectory(clock=crm_clock).resolve(load_published(publisher.home))
    assert [(a.address, a.crm_mailbox_id) for a in view.assignments] == [("alice@contoso.com", None)]
    assert view.crm_answered and view.infos == {} and view.info("alice@contoso.com") is None


def test_while_load_data_fails_the_directory_is_resolved_sooner_backing_off_to_the_update_period(
        publisher: Publisher, embedded_gateway: EmbeddedGateway, crm_clock: FrozenClock) -> None:
    publisher.publish(mailboxes=BINDING)
    config = load_published(publisher.home)
    settings = SystemSettings(config_refresh_period_seconds=5.0, config_update_period_seconds=3600.0)
    source = FlakyCrm(embedded_gateway)
    directory = MailboxDirectory(source, clock=crm_clock)
    assert directory.next_refresh(settings) == 3600.0
    source.down = True
    waits = []
    for _ in range(11):
        directory.resolve(config)
        waits.append(directory.next_refresh(settings))
    assert waits == [5.0, 10.0, 20.0, 40.0, 80.0, 160.0, 320.0, 640.0, 1280.0, 2560.0, 3600.0]
    source.down = False
    directory.resolve(config)
    assert directory.next_refresh(settings) == 3600.0


def test_a_service_started_while_its_crm_is_down_becomes_ready_when_it_answers(
        publisher: Publisher, embedded_gateway: EmbeddedGateway, crm_clock: FrozenClock) -> None:
    publisher.publish(mailboxes=BINDING)
    source = FlakyCrm(embedded_gateway)
    source.down = True
    service = Service(publisher.home, LaneWorkRegistry(), clock=crm_clock,
                      directory=MailboxDirectory(source, clock=crm_clock))
    service.start()
    try:
        ready = service.ready()
        assert not ready.ok and not ready.checks["crm_load_data"]
        assert "the CRM did not answer (HTTP 503)" in ready.detail
        source.down = False
        deadline = time.monotonic() + WAIT
        while not service.ready().ok:
            assert time.monotonic() < deadline, "the directory was not resolved again"
            time.sleep(0.02)
        view = service.directory.current()
        assert view is not None and view.roster.assignment("bert@contoso.com") is not None
    finally:
        service.stop(grace=WAIT)


class PausingGateway:
    """The embedded gateway whose first mailbox-status write pauses until released, as a slow CRM."""

    def __init__(self, gateway: EmbeddedGateway) -> None:
        self.gateway = gateway
        self.first_in_flight = threading.Event()
        self.release = threading.Event()
        self.calls = 0

    def __call__(self, config: PublishedConfig, deployment: str) -> CrmGateway:
        return self  # type: ignore[return-value]

    def record_mailbox_test(self, result: MailboxTestResult) -> None:
        self.calls += 1
        if self.calls == 1:
            self.first_in_flight.set()
            self.release.wait(WAIT)
        self.gateway.record_mailbox_test(result)


def test_both_lanes_statuses_reach_the_crm_row_whatever_order_their_writes_finish_in(
        publisher: Publisher, embedded_gateway: EmbeddedGateway, crm_clock: FrozenClock) -> None:
    publisher.publish(mailboxes=BINDING)
    def source(config: PublishedConfig, deployment: str) -> CrmGateway:
        return embedded_gateway

    view = MailboxDirectory(source, clock=crm_clock).resolve(load_published(publisher.home))
    mailbox = "bert@contoso.com"
    assert view.info(mailbox) is not None
    slow = PausingGateway(embedded_gateway)
    writer = CrmMailboxStatus(slow, crm_clock)
    outgoing = threading.Thread(target=writer.status,
                                args=(view, mailbox, Direction.OUTGOING, MailboxTestStatus.SUCCESS))
    incoming = threading.Thread(target=writer.status,
                                args=(view, mailbox, Direction.INCOMING, MailboxTestStatus.SUCCESS))
    outgoing.start()
    assert slow.first_in_flight.wait(WAIT)
    incoming.start()
    incoming.join(0.3)  # Without ordering, the later composition lands first here.
    slow.release.set()
    for thread in (outgoing, incoming):
        thread.join(WAIT)
    info = MailboxDirectory(source, clock=crm_clock).resolve(load_published(publisher.home)).info(mailbox)
    assert info is not None
    assert (info.incoming_status, info.outgoing_status) == (MailboxTestStatus.SUCCESS,) * 2


class BatchCountingGateway:
    """The embedded gateway, counting status writes one by one and in batches; it can refuse batches."""

    def __init__(self, gateway: EmbeddedGateway) -> None:
        self.gateway = gateway
        self.single = 0
        self.batches: list[int] = []
        self.refuse_batches = False

    def __call__(self, config: PublishedConfig, deployment: str) -> CrmGateway:
        return self  # type: ignore[return-value]

    def load_data(self) -> tuple[MailboxInfo, ...]:
        return self.gateway.load_data()

    def record_mailbox_test(self, result: MailboxTestResult) -> None:
        self.single += 1
        self.gateway.record_mailbox_test(result)

    def record_mailbox_tests(self, results: list[MailboxTestResult]) -> None:
        self.batches.append(len(results))
        if self.refuse_batches:
            raise CrmRecordNotFoundError("one of the mailboxes is no longer in the CRM")
        self.gateway.record_mailbox_tests(results)


def _statuses(source: BatchCountingGateway, publisher: Publisher, crm_clock: FrozenClock,
              mailbox: str) -> tuple[MailboxTestStatus, MailboxTestStatus]:
    info = MailboxDirectory(source, clock=crm_clock).resolve(load_published(publisher.home)).info(mailbox)
    assert info is not None
    return info.incoming_status, info.outgoing_status


def test_held_statuses_are_written_together_by_flush_both_directions_in_one_result(
        publisher: Publisher, embedded_gateway: EmbeddedGateway, crm_clock: FrozenClock) -> None:
    publisher.publish(mailboxes=BINDING)
    source = BatchCountingGateway(embedded_gateway)
    view = MailboxDirectory(source, clock=crm_clock).resolve(load_published(publisher.home))
    writer = CrmMailboxStatus(source, crm_clock)
    ok, not_run = MailboxTestStatus.SUCCESS, MailboxTestStatus.NOT_RUN
    bert = "bert@contoso.com"
    for mailbox, direction in (("alice@contoso.com", Direction.INCOMING), (bert, Direction.OUTGOING),
                               (bert, Direction.INCOMING)):
        writer.status_soon(view, mailbox, direction, ok)
    held = _statuses(source, publisher, crm_clock, "bert@contoso.com")
    assert held == (not_run, not_run), "held, not written"
    assert writer.flush() == 2
    assert (source.batches, source.single) == ([2], 0), "one call for both mailboxes, one result per mailbox"
    assert _statuses(source, publisher, crm_clock, "bert@contoso.com") == (ok, ok)
    assert _statuses(source, publisher, crm_clock, "alice@contoso.com")[0] is ok
    writer.status_soon(view, "alice@contoso.com", Direction.INCOMING, ok)
    assert writer.flush() == 0, "a status the CRM shows already is not held again"


def test_a_refused_batch_is_written_mailbox_by_mailbox(
        publisher: Publisher, embedded_gateway: EmbeddedGateway, crm_clock: FrozenClock) -> None:
    publisher.publish(mailboxes=BINDING)
    source = BatchCountingGateway(embedded_gateway)
    source.refuse_batches = True
    view = MailboxDirectory(source, clock=crm_clock).resolve(load_published(publisher.home))
    writer = CrmMailboxStatus(source, crm_clock)
    for mailbox in ("alice@contoso.com", "bert@contoso.com"):
        writer.status_soon(view, mailbox, Direction.INCOMING, MailboxTestStatus.SUCCESS)
    assert writer.flush() == 2
    assert (source.batches, source.single) == ([2], 2)
    assert _statuses(source, publisher, crm_clock, "bert@contoso.com")[0] is MailboxTestStatus.SUCCESS


class PausingBatchGateway(BatchCountingGateway):
    """Its batch writes pause until released, as thousands of PATCHes to a Dynamics server take long."""

    def __init__(self, gateway: EmbeddedGateway) -> None:
        super().__init__(gateway)
        self.in_flight = threading.Event()
        self.release = threading.Event()

    def record_mailbox_tests(self, results: list[MailboxTestResult]) -> None:
        self.in_flight.set()
        self.release.wait(WAIT)
        super().record_mailbox_tests(results)


def test_a_flush_while_another_is_writing_returns_at_once_and_the_next_writes_what_was_held(
        publisher: Publisher, embedded_gateway: EmbeddedGateway, crm_clock: FrozenClock) -> None:
    publisher.publish(mailboxes=BINDING)
    source = PausingBatchGateway(embedded_gateway)
    view = MailboxDirectory(source, clock=crm_clock).resolve(load_published(publisher.home))
    writer = CrmMailboxStatus(source, crm_clock)
    ok = MailboxTestStatus.SUCCESS
    writer.status_soon(view, "alice@contoso.com", Direction.INCOMING, ok)
    slow = threading.Thread(target=writer.flush)
    slow.start()
    assert source.in_flight.wait(WAIT)
    writer.status_soon(view, "bert@contoso.com", Direction.INCOMING, ok)
    assert writer.flush() == 0, "a second flush does not wait for the first (which is still writing)"
    assert not source.release.is_set()
    source.release.set()
    slow.join(WAIT)
    assert writer.flush() == 1
    assert source.batches == [1, 1]
    assert _statuses(source, publisher, crm_clock, "bert@contoso.com")[0] is ok

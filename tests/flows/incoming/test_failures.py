"""Failures of Exchange and of the CRM: the lane defers and retries with back-off, never loses mail,
never delivers twice, and quarantines only what the CRM refuses for the message itself."""

from __future__ import annotations

import socket
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import SecretStr

from router.clock import FrozenClock
from router.config import Direction
from router.crm.facade import CrmFacade
from router.crm.gateway import CheckResult, CrmGateway, IncomingAnswer, IncomingEmail
from router.errors import CrmTransientError, TransientTransportError
from router.ews import AccountFactory, AutodiscoverCache
from router.pipeline.incoming.lanes import IncomingLanes
from router.runtime.outcome import WorkContext
from router.service.drain import assignment_of
from router.state import LedgerStage
from router.vault import PasswordCredential, Vault
from tests.flows.incoming.rig import ALICE, CAROL, Rig, binding
from tests.support.crm import SERVICE_ACCOUNT, SERVICE_PASSWORD, facade_credentials
from tests.unit.pipeline.incoming.builders import mime

pytestmark = pytest.mark.flow


def inject(rig: Rig, *names: str) -> None:
    for name in names:
        rig.sim.control.inject(ALICE, from_=CAROL, to=[ALICE], subject=name, body="body",
                               message_id=f"<{name}@fabrikam.com>")


def test_exchange_throttling_is_obeyed_and_nothing_is_lost(rig: Rig) -> None:
    rig.publish(binding("users", ALICE))
    inject(rig, "t1", "t2")
    rig.sim.control.fault("server_busy", "GetItem", back_off_ms=1500)
    with pytest.raises(TransientTransportError) as caught:
        rig.drain(ALICE)
    assert caught.value.back_off == 1.5 and caught.value.mailbox == ALICE
    assert rig.incoming_count() == 0
    rig.drain(ALICE)
    assert all(len(rig.activities(f"<{n}@fabrikam.com>")) == 1 for n in ("t1", "t2"))


def test_a_failed_acknowledgement_is_retried_without_delivering_again(rig: Rig) -> None:
    rig.publish(binding("users", ALICE))
    inject(rig, "a1", "a2")
    rig.sim.control.fault("drop", "UpdateItem")
    with pytest.raises(TransientTransportError):
        rig.drain(ALICE)
    with rig.store() as store:
        entries = [store.ledger.find_by_message_id(f"<{n}@fabrikam.com>")[0] for n in ("a1", "a2")]
    assert all(e.stage is LedgerStage.DELIVERED and e.owner is None for e in entries), "released, not lost"
    assert all(m.categories == [] for m in rig.sim.control.messages(ALICE))
    rig.drain(ALICE)
    assert all(m.categories == ["Tracked to Dynamics 365"] for m in rig.sim.control.messages(ALICE))
    assert all(len(rig.activities(f"<{n}@fabrikam.com>")) == 1 for n in ("a1", "a2"))


def test_an_invalid_sync_state_restarts_the_synchronisation(rig: Rig) -> None:
    rig.publish(binding("users", ALICE))
    inject(rig, "s1")
    rig.drain(ALICE)
    with rig.store() as store:
        store.sync.save_state(ALICE, "Inbox", "not-a-state-exchange-knows")
    inject(rig, "s2")
    rig.drain(ALICE)
    assert all(len(rig.activities(f"<{n}@fabrikam.com>")) == 1 for n in ("s1", "s2"))
    with rig.store() as store:
        assert store.sync.get_state(ALICE, "Inbox") not in (None, "not-a-state-exchange-knows")


@pytest.fixture
def dynamics(rig: Rig) -> Iterator[CrmFacade]:
    """The rig's CRM behind the Web API facade, as the published deployment's CRM."""
    Vault.open(rig.home).set("crm", PasswordCredential(username=SERVICE_ACCOUNT,
                                                       password=SecretStr(SERVICE_PASSWORD)))
    with CrmFacade(rig.crm, credentials=facade_credentials()) as facade:
        crm = (f'[deployments.contoso.dynamics]\nurl = "{facade.api_url("9.0", "contoso")}"\n'
               'auth = "ntlm"\ncredential = "crm"\ninsecure_allow_clear_text_over_http = true\n')
        rig.publish(binding("users", ALICE), crm=crm)
        yield facade


def test_a_busy_crm_defers_the_batch_with_its_back_off(rig: Rig, dynamics: CrmFacade) -> None:
    inject(rig, "b1")
    dynamics.faults.add(503, times=10, match="DeliverIncomingEmail", retry_after=30)
    clock = FrozenClock(datetime.now(UTC))  # The adapter's own retries sleep on it, instantly.
    with pytest.raises(CrmTransientError) as caught:
        rig.drain(ALICE, clock=clock)
    assert caught.value.back_off == 30
    with rig.store() as store:
        [entry] = store.ledger.find_by_message_id("<b1@fabrikam.com>")
    assert entry.stage is LedgerStage.CLAIMED and entry.owner is None
    dynamics.faults.clear()
    rig.drain(ALICE, clock=clock)
    assert len(rig.activities("<b1@fabrikam.com>")) == 1


def test_a_message_the_crm_rejects_is_quarantined_and_the_batch_goes_on(rig: Rig,
                                                                        dynamics: CrmFacade) -> None:
    inject(rig, "r1", "r2")
    dynamics.faults.add(400, match="DeliverIncomingEmail", code="0x80040203",
                        message="The e-mail body contains a character the CRM refuses")
    rig.drain(ALICE)
    with rig.store() as store:
        [entry] = store.quarantine.entries(mailbox=ALICE)
    assert entry.stage == "deliver" and entry.reason_code == "0x80040203"
    assert "character the CRM refuses" in entry.reason
    delivered = [n for n in ("r1", "r2") if rig.activities(f"<{n}@fabrikam.com>")]
    assert len(delivered) == 1 and entry.internet_message_id != f"<{delivered[0]}@fabrikam.com>"


class ExplodingGateway:
    """The real gateway, except that checking one message fails with an unexpected error."""

    def __init__(self, inner: CrmGateway, message_id: str) -> None:
        self._inner, self._bad = inner, message_id

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def check_incoming(self, email: IncomingEmail) -> CheckResult:
        if email.message_id == self._bad:
            raise ValueError("an unexpected failure in the CRM client")
        return self._inner.check_incoming(email)

    def check_and_deliver_incoming(self, emails: Sequence[IncomingEmail]) -> tuple[IncomingAnswer, ...]:
        # The batch call fails as a whole; the lane then offers the messages one at a time.
        if any(email.message_id == self._bad for email in emails):
            raise ValueError("an unexpected failure in the CRM client")
        return self._inner.check_and_deliver_incoming(emails)


def test_an_unexpected_failure_defers_one_message_then_quarantines_it(rig: Rig) -> None:
    config = rig.publish(binding("users", ALICE), settings="[settings.incoming]\nmax_item_attempts = 2\n")
    inject(rig, "good", "bad")
    clock = FrozenClock(datetime.now(UTC))
    resources = rig.resources(clock)
    lanes = IncomingLanes(resources, notifications=False)
    work = lanes.build(assignment_of(resources, config, ALICE), Direction.INCOMING, config)
    work.processor.gateway = ExplodingGateway(work.processor.gateway, "<bad@fabrikam.com>")
    context = WorkContext(work.key)
    try:
        assert work(context).processed == 2
        with rig.store() as store:
            [bad] = store.ledger.find_by_message_id("<bad@fabrikam.com>")
            assert bad.stage is LedgerStage.CLAIMED and bad.owner is None and bad.retry_at is not None
            assert "unexpected failure in the CRM client" in (bad.last_error or "")
        assert len(rig.activities("<good@fabrikam.com>")) == 1
        assert work(context).processed == 0, "not due before its back-off"
        clock.advance(120)
        assert work(context).processed == 1
    finally:
        work.close()
        lanes.close()
        resources.close()
    with rig.store() as store:
        [entry] = store.quarantine.entries()
        results = [d.result for d in store.trail.for_message_id("<bad@fabrikam.com>")]
    assert entry.reason_code == "repeated-failure" and "failed 2 times" in entry.reason
    assert results == ["deferred", "quarantined"]
    categories = {m.message_id: m.categories for m in rig.sim.control.messages(ALICE)}
    assert categories == {"<good@fabrikam.com>": ["Tracked to Dynamics 365"],
                          "<bad@fabrikam.com>": ["Undeliverable"]}


def test_an_item_that_breaks_every_fetch_is_given_up_while_the_rest_flows(rig: Rig) -> None:
    # A reverse proxy in front of Exchange refuses responses above 2 MB, so every GetItem that includes
    # the 3 MB item fails while the small one alone is fetched.
    rig.sim.config.max_response_bytes = 2 * 1024 * 1024
    config = rig.publish(binding("users", ALICE), settings="[settings.incoming]\nmax_item_attempts = 2\n")
    inject(rig, "small")
    rig.sim.control.inject(ALICE, mime("Message-ID: <huge@fabrikam.com>", body="x" * 3 * 1024 * 1024))
    resources = rig.resources()
    lanes = IncomingLanes(resources, notifications=False)
    work = lanes.build(assignment_of(resources, config, ALICE), Direction.INCOMING, config)
    try:
        assert work(WorkContext(work.key)).processed == 1
        assert len(rig.activities("<small@fabrikam.com>")) == 1
        with rig.store() as store:
            assert store.quarantine.entries() == [], "one failure is not enough to give up"
        work(WorkContext(work.key))
    finally:
        work.close()
        lanes.close()
        resources.close()
    with rig.store() as store:
        [entry] = store.quarantine.entries()
    assert entry.stage == "fetch" and entry.reason_code == "fetch-failed" and entry.mime is None
    assert "failed 2 times while other items could be fetched" in entry.reason
    categories = {m.message_id: m.categories for m in rig.sim.control.messages(ALICE)}
    assert categories["<huge@fabrikam.com>"] == ["Undeliverable"]


def test_an_autodiscovered_endpoint_that_moved_is_discovered_again(rig: Rig) -> None:
    """The profile's explicit Autodiscover endpoint, as production asks it (SOAP GetUserSettings).

    Autodiscover first still names the server the mailbox moved away from: the run fails, the answer
    is forgotten, and the next run asks Autodiscover again, which now names the new server.
    """
    config = rig.publish(binding("users", ALICE), autodiscover=True)
    inject(rig, "ad1")
    with socket.socket() as probe:  # A port nothing listens on: the old server is gone.
        probe.bind(("127.0.0.1", 0))
        old = f"https://127.0.0.1:{probe.getsockname()[1]}/EWS/Exchange.asmx"
    autodiscover = rig.sim.simulator.autodiscover
    new, autodiscover.ews_url = autodiscover.ews_url, old
    resources = rig.resources()
    cache = AutodiscoverCache(resources.clock)
    resources.accounts.close()
    resources.accounts = AccountFactory(resources.clock, autodiscover_cache=cache)
    lanes = IncomingLanes(resources, notifications=False)
    work = lanes.build(assignment_of(resources, config, ALICE), Direction.INCOMING, config)
    try:
        with pytest.raises(TransientTransportError, match="Connection refused"):
            work(WorkContext(work.key))
        assert cache.get(ALICE) is None, "the failed answer was forgotten"
        autodiscover.ews_url = new
        assert work(WorkContext(work.key)).processed == 1
        found = cache.get(ALICE)
        assert found is not None and found.ews_url == new, "discovered again at the explicit endpoint"
    finally:
        work.close()
        lanes.close()
        resources.close()
    assert len(rig.activities("<ad1@fabrikam.com>")) == 1

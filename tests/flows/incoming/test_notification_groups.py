"""Shared streaming connections: many mailboxes' subscriptions on a few GetStreamingEvents, within the
simulator's cap on streaming connections per account (Exchange's ErrorExceededConnectionCount).

Everything runs over HTTPS against the simulator with exchangelib; the service account impersonates
every mailbox, so all subscriptions are the service account's and may share a connection."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace

import pytest
import requests

from router.clock import SystemClock
from router.config import Direction
from router.crm.codes import Approval, FilteringMethod
from router.crm.embedded import MailboxSettings
from router.ews import AccountFactory
from router.pipeline.incoming.notifications import NotificationHub, Watch
from router.runtime.connections import connection_spec
from router.runtime.lane import LaneKey
from router.runtime.metrics import Metrics
from router.service.service import Service
from router.service.wiring import lane_work_registry
from tests.flows.incoming.rig import ALICE, CAROL, Rig, binding
from tests.simulator import raw
from tests.support.ews_simulator import PASSWORD, SVC

pytestmark = pytest.mark.flow

PATIENCE = 30.0
"""Longest wait for something the hub does on its own; never reached when it works."""
EXCEEDED = "ErrorExceededConnectionCount"


def eventually(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + PATIENCE
    while not check():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.05)


def people(count: int) -> list[str]:
    return [f"user{n:02d}@contoso.com" for n in range(count)]


def add_mailboxes(rig: Rig, addresses: list[str], *, crm: bool = False) -> None:
    """Mailboxes in Exchange (the service account impersonates them all) and, with ``crm``, CRM users."""
    rig.sim.control.seed({"users": [{"address": a, "name": a.split("@")[0]} for a in addresses]})
    approved = MailboxSettings(approval=Approval.APPROVED, filtering=FilteringMethod.ALL)
    for address in addresses if crm else []:
        name = address.split("@")[0]
        rig.crm.add_user(name, address, f"CONTOSO\\{name}", settings=approved)


def server_streams(rig: Rig) -> dict[str, str]:
    """The simulator's streaming subscriptions: id -> mailbox."""
    return {sid: s.mailbox for sid, s in list(rig.sim.store.events.subscriptions.items()) if s.streaming}


def exceeded(rig: Rig) -> int:
    return sum(1 for r in rig.sim.control.requests() if EXCEEDED in r.codes)


class Woken:
    """The lanes the hub woke, in order, thread-safe."""

    def __init__(self) -> None:
        self.keys: list[LaneKey] = []
        self._lock = threading.Lock()

    def __call__(self, key: LaneKey) -> bool:
        with self._lock:
            self.keys.append(key)
        return True

    def count(self, address: str) -> int:
        with self._lock:
            return sum(1 for k in self.keys if k.mailbox == address)


@pytest.fixture
def accounts() -> Iterator[AccountFactory]:
    with AccountFactory(SystemClock()) as factory:
        yield factory


def watches(rig: Rig, addresses: list[str], minutes: int = 10) -> dict[str, Watch]:
    config = rig.publish("".join(binding("users", a) for a in addresses))
    return {a.address: Watch(LaneKey(a.address, Direction.INCOMING),
                             connection_spec(config, a, Direction.INCOMING), "Inbox", minutes)
            for a in config.profiles.mailboxes()}


def inject(rig: Rig, address: str, tag: str) -> None:
    rig.sim.control.inject(address, from_=CAROL, to=[address], subject=tag, body="b",
                           message_id=f"<{tag}@fabrikam.com>")


def test_fifty_mailboxes_share_two_connections_within_a_cap_of_two(rig: Rig,
                                                                   accounts: AccountFactory) -> None:
    rig.sim.config.max_streaming_connections = 2
    addresses = people(50)
    add_mailboxes(rig, addresses)
    found = watches(rig, addresses)
    woken = Woken()
    hub = NotificationHub(accounts, woken, per_connection=25)
    try:
        assert all(hub.watch(w, limit=2) for w in found.values())
        assert not hub.watch(replace(found[addresses[0]], key=LaneKey(ALICE, Direction.INCOMING)), limit=2), \
            "two full connections: a 51st mailbox is left to its sweep"
        eventually(lambda: all(hub.streaming(w.key) for w in found.values()), "fifty subscriptions")
        eventually(lambda: all(woken.count(a) == 1 for a in addresses), "one catch-up wake each")
        assert hub.connections() == 2
        assert sorted(server_streams(rig).values()) == sorted(addresses)
        for target in (addresses[3], addresses[31], addresses[49]):
            inject(rig, target, f"to-{target.split('@')[0]}")
            eventually(lambda t=target: woken.count(t) == 2, f"the wake of {target}")  # type: ignore[misc]
        changed = [addresses[3], addresses[31], addresses[49]]
        assert [a for a in addresses if woken.count(a) != 1] == changed, "only changed mailboxes woke"
        assert exceeded(rig) == 0
    finally:
        hub.close()
    assert hub.watching() == frozenset() and hub.connections() == 0


def test_connections_are_renewed_and_a_subscription_the_server_drops_is_made_again_alone(
        rig: Rig, accounts: AccountFactory) -> None:
    addresses = people(6)
    add_mailboxes(rig, addresses)
    found = watches(rig, addresses, minutes=1)  # the simulator's minute is one second here
    woken = Woken()
    hub = NotificationHub(accounts, woken, per_connection=3)
    try:
        assert all(hub.watch(w, limit=10) for w in found.values())
        eventually(lambda: len(server_streams(rig)) == 6
                   and all(hub.streaming(w.key) for w in found.values()), "six subscriptions")
        before = dict(server_streams(rig))
        opened = sum(1 for r in rig.sim.control.requests() if r.operation == "GetStreamingEvents")
        time.sleep(3.0)  # several one-second connections end (ConnectionStatus Closed) and are renewed
        assert sum(1 for r in rig.sim.control.requests() if r.operation == "GetStreamingEvents") >= opened + 4
        assert server_streams(rig) == before, "renewing a connection keeps its subscriptions"
        inject(rig, addresses[1], "after-renewal")
        eventually(lambda: woken.count(addresses[1]) == 2, "a wake on a renewed connection")

        # The server forgets one subscription (it expired): only that mailbox subscribes again.
        dropped = next(sid for sid, mailbox in before.items() if mailbox == addresses[0])
        rig.sim.store.events.remove(dropped)
        eventually(lambda: sorted(server_streams(rig).values()) == sorted(addresses), "the new subscription")
        after = server_streams(rig)
        assert {s: m for s, m in after.items() if m != addresses[0]} == \
            {s: m for s, m in before.items() if m != addresses[0]}, "the others kept theirs"
        eventually(lambda: woken.count(addresses[0]) == 2, "the catch-up wake of the re-made subscription")
        inject(rig, addresses[0], "after-resubscribe")
        inject(rig, addresses[2], "neighbour")
        eventually(lambda: woken.count(addresses[0]) == 3 and woken.count(addresses[2]) == 2,
                   "wakes on the repaired connection")
    finally:
        hub.close()


def test_a_mailbox_that_cannot_subscribe_does_not_hold_up_its_group(rig: Rig,
                                                                    accounts: AccountFactory) -> None:
    addresses = people(4)
    add_mailboxes(rig, addresses)
    found = watches(rig, addresses)
    ghost = replace(found[addresses[0]], key=LaneKey("ghost@contoso.com", Direction.INCOMING),
                    spec=replace(found[addresses[0]].spec, mailbox="ghost@contoso.com"))
    woken = Woken()
    hub = NotificationHub(accounts, woken, retry_base=30.0)
    try:
        assert hub.watch(ghost, limit=10) and all(hub.watch(w, limit=10) for w in found.values())
        eventually(lambda: all(hub.streaming(w.key) for w in found.values()), "the real mailboxes' streams")
        assert not hub.streaming(ghost.key), "no such mailbox: it is swept, its subscription retried later"
        inject(rig, addresses[2], "beside-the-ghost")
        eventually(lambda: woken.count(addresses[2]) == 2, "the wake of a neighbour of the failing mailbox")
        assert hub.connections() == 1
    finally:
        hub.close()


def _hold_a_stream(rig: Rig, session: requests.Session,
                   sid: str) -> tuple[requests.Response, Iterator[bytes]]:
    """Another client of the service account holds a streaming connection open (while the caller keeps
    the reader: dropping it closes the connection)."""
    body = raw.envelope(f"<m:GetStreamingEvents><m:SubscriptionIds><t:SubscriptionId>{sid}</t:SubscriptionId>"
                        "</m:SubscriptionIds><m:ConnectionTimeout>30</m:ConnectionTimeout></m:GetStreamingEvents>")
    held = session.post(rig.sim.url, data=body, auth=(SVC, PASSWORD), verify=str(rig.sim.ca_file),
                        stream=True, timeout=30, headers={"Content-Type": "text/xml; charset=utf-8"})
    reader = held.iter_content(chunk_size=64)
    next(reader)
    return held, reader


def test_exceeded_connection_count_backs_off_one_connection_and_spares_the_lanes_pool(
        rig: Rig, accounts: AccountFactory) -> None:
    rig.sim.config.max_streaming_connections = 1
    addresses = people(2)
    add_mailboxes(rig, addresses)
    found = watches(rig, addresses)
    woken = Woken()
    account = accounts.account(found[addresses[0]].spec)
    other_sid = account.inbox.subscribe_to_streaming()
    # exchangelib answers ErrorExceededConnectionCount by shrinking the pool the refused stream came from
    # (taking a session out of it, which waits while streams hold them all): the lanes' must not be it.
    lanes_pool = account.protocol
    size = lanes_pool.session_pool_size
    hub = NotificationHub(accounts, woken, retry_base=0.5, retry_max=1.0)
    try:
        with requests.Session() as other:
            held, _reader = _hold_a_stream(rig, other, other_sid)  # the account's only streaming connection
            assert hub.watch(found[addresses[1]], limit=10)
            eventually(lambda: exceeded(rig) >= 2, "refused connections (retried with back-off)")
            held.close()
        inject(rig, addresses[1], "after-the-other-client")
        eventually(lambda: woken.count(addresses[1]) >= 2, "the wake once the account had a connection free")
        assert lanes_pool.session_pool_size == size >= 1, "the lanes' session pool kept its size"
    finally:
        hub.close()


def test_the_service_serves_fifty_mailboxes_on_two_connections(rig: Rig) -> None:
    rig.sim.config.max_streaming_connections = 2
    addresses = people(50)
    add_mailboxes(rig, addresses, crm=True)
    rig.publish("".join(binding("users", a) for a in addresses),
                settings="[settings.incoming]\nnotification_streams = 2\n", period=30.0)
    clock, metrics = SystemClock(), Metrics()
    service = Service(rig.home, lane_work_registry(rig.home, clock, metrics), clock=clock, metrics=metrics)
    service.start()
    try:
        eventually(lambda: len(server_streams(rig)) == 50, "fifty subscriptions")
        for n in (0, 17, 42):
            inject(rig, addresses[n], f"service-{n}")
        eventually(lambda: all(rig.activities(f"<service-{n}@fabrikam.com>") for n in (0, 17, 42)),
                   "the notified deliveries (the sweep is 30 s away)")
        assert exceeded(rig) == 0
    finally:
        service.stop(5.0)

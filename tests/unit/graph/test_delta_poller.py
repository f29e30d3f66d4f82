"""DeltaPoller against the simulator's Graph face: many mailboxes' delta links asked in one $batch, and
only the lanes whose mailbox changed (or whose link Graph refuses) are woken."""

from __future__ import annotations

import queue
import time
from collections.abc import Callable, Iterator

import pytest

from router.clock import FrozenClock, SystemClock
from router.graph.client import GraphClient
from router.graph.delta_poller import DeltaPoller
from router.graph.mailbox import GraphMailbox
from router.simulator import Controller
from tests.support.graph_simulator import ALICE, BOB, CAROL, SVC, graph_client, graph_sim, graph_tls_dir

__all__ = ["graph_sim", "graph_tls_dir"]
PATIENCE = 20.0
"""Longest wait for something the poller thread does; never reached when it works."""
OWNER = object()


def eventually(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + PATIENCE
    while not check():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.02)


def delta_link(client: GraphClient, mailbox: str) -> str:
    box, link = GraphMailbox(client, mailbox), None
    while True:
        page = box.delta_page(link)
        if page.delta_link:
            return page.delta_link
        link = page.next_link


@pytest.fixture
def woken() -> queue.Queue[str]:
    return queue.Queue()


@pytest.fixture
def poller(woken: queue.Queue[str]) -> Iterator[DeltaPoller[str]]:
    polling: DeltaPoller[str] = DeltaPoller(woken.put, SystemClock())
    yield polling
    polling.close()


def batches(sim: Controller) -> list[int]:
    """The step counts of the $batch requests the simulator served so far."""
    return [int(r.code) for r in sim.control.graph_requests() if r.operation == "graph.batch"]


def test_one_batch_asks_every_mailbox_and_only_the_changed_one_is_woken(
        graph_sim: Controller, poller: DeltaPoller[str], woken: queue.Queue[str]) -> None:
    client = graph_client(graph_sim)
    for mailbox in (SVC, ALICE, BOB):
        assert poller.watch(mailbox, client, mailbox, delta_link(client, mailbox), 0.2, owner=OWNER)
    eventually(lambda: batches(graph_sim).count(3) >= 2, "two batches asking about all three mailboxes")
    assert woken.empty(), "nothing changed: no lane is woken"
    graph_sim.control.inject(ALICE, from_=CAROL, to=[ALICE], subject="new", message_id="<new@fabrikam.com>")
    assert woken.get(timeout=PATIENCE) == ALICE
    assert not poller.watching(ALICE) and poller.watching(SVC) and poller.watching(BOB)
    # The woken lane registers again after its run; until then its mailbox is not asked.
    eventually(lambda: batches(graph_sim)[-1] == 2, "a batch of the two still watched")
    assert woken.empty()


def test_a_link_graph_refuses_wakes_the_lane_and_a_throttled_one_waits(
        graph_sim: Controller, poller: DeltaPoller[str], woken: queue.Queue[str]) -> None:
    client = graph_client(graph_sim)
    link = delta_link(client, ALICE)
    graph_sim.control.fault("server_busy", "graph.delta", count=1, back_off_ms=1000)
    assert poller.watch(ALICE, client, ALICE, link, 0.2, owner=OWNER)
    eventually(lambda: any(r.status == 429 for r in graph_sim.control.graph_requests()), "the throttled step")
    assert woken.empty() and poller.watching(ALICE), "throttled: asked again after Retry-After, not woken"
    eventually(lambda: sum(1 for r in graph_sim.control.graph_requests()
                           if r.operation == "graph.delta" and r.status == 200) >= 2, "the retried step")
    assert woken.empty()
    assert poller.watch(ALICE, client, ALICE, link.replace("deltatoken=", "deltatoken=expired"), 0.2,
                        owner=OWNER)
    assert woken.get(timeout=PATIENCE) == ALICE, "410 SyncStateNotFound: the lane's run resets the link"


def test_only_links_of_the_clients_graph_are_watched_and_only_by_their_owner(
        graph_sim: Controller, poller: DeltaPoller[str]) -> None:
    client = graph_client(graph_sim)
    assert not poller.watch(ALICE, client, ALICE, None, 30.0, owner=OWNER)
    assert not poller.watch(ALICE, client, ALICE, "https://elsewhere.example/v1.0/users/x/delta", 30.0,
                            owner=OWNER)
    assert poller.watch(ALICE, client, ALICE, delta_link(client, ALICE), 30.0, owner=OWNER)
    poller.unwatch(ALICE, owner=object())
    assert poller.watching(ALICE), "a rebuilt lane's old work does not drop the new one's watch"
    poller.unwatch(ALICE, owner=OWNER)
    assert not poller.watching(ALICE)


def test_a_mailbox_that_just_had_mail_is_asked_again_soon(graph_sim: Controller,
                                                          woken: queue.Queue[str]) -> None:
    client = graph_client(graph_sim)
    poller: DeltaPoller[str] = DeltaPoller(woken.put, SystemClock(), fast=0.1)
    try:
        assert poller.watch(ALICE, client, ALICE, delta_link(client, ALICE), 3600.0, owner=OWNER, active=True)
        eventually(lambda: len(batches(graph_sim)) >= 3, "asks after 0.1, 0.2 and 0.4 s, not after an hour")
        assert woken.empty()
    finally:
        poller.close()


def test_links_registered_at_different_moments_share_full_batches(graph_sim: Controller,
                                                                  woken: queue.Queue[str]) -> None:
    client, clock = graph_client(graph_sim), FrozenClock()
    link = delta_link(client, ALICE)
    poller: DeltaPoller[str] = DeltaPoller(woken.put, clock, background=False)
    for n in range(30):  # thirty lanes (one mailbox will do) registering over three seconds
        assert poller.watch(f"lane{n}", client, ALICE, link, 30.0, owner=OWNER)
        clock.advance(0.1)
    assert poller.poll_due() == 0, "nothing due yet"
    clock.advance(27.0)  # the first is due: nineteen due within 6 s (a fifth of their wait) join it
    assert poller.poll_due() == 20 and batches(graph_sim) == [20]
    clock.advance(1.0)
    assert poller.poll_due() == 0, "the rest are not due yet, and no batch is started for them alone"
    clock.advance(1.0)
    assert poller.poll_due() == 10 and batches(graph_sim) == [20, 10]
    assert woken.empty()


def test_a_sweep_right_after_a_quiet_answer_asks_graph_nothing(graph_sim: Controller,
                                                                woken: queue.Queue[str]) -> None:
    clock = FrozenClock()
    client = graph_client(graph_sim, clock=clock)
    link = delta_link(client, ALICE)
    poller: DeltaPoller[str] = DeltaPoller(woken.put, clock, background=False)
    assert poller.watch(ALICE, client, ALICE, link, 30.0, owner=OWNER)
    clock.advance(30.0)
    assert poller.poll_due() == 1 and woken.empty()
    box, asked = GraphMailbox(client, ALICE), deltas(graph_sim)
    assert box.delta_page(link).delta_link == link and deltas(graph_sim) == asked, "the answer stands"
    graph_sim.control.inject(ALICE, from_=CAROL, to=[ALICE], subject="new", message_id="<n@fabrikam.com>")
    clock.advance(30.0)  # the poller's next question is due: the old answer no longer stands
    assert [m.subject for m in box.delta_page(link).messages] == ["new"] and deltas(graph_sim) == asked + 1


def test_the_watched_link_stands_for_the_saved_one_only_while_its_quiet_answer_stands(
        graph_sim: Controller, woken: queue.Queue[str]) -> None:
    clock = FrozenClock()
    client = graph_client(graph_sim, clock=clock)
    link = delta_link(client, ALICE)
    poller: DeltaPoller[str] = DeltaPoller(woken.put, clock, background=False)
    assert poller.watch(ALICE, client, ALICE, link, 30.0, owner=OWNER)
    assert poller.quiet_link(ALICE, client) is None, "not asked yet: the lane reads its saved link"
    clock.advance(30.0)
    assert poller.poll_due() == 1 and woken.empty()
    assert poller.quiet_link(ALICE, client) == link, "a sweep now reads no page: its saved link is this one"
    assert poller.quiet_link(ALICE, graph_client(graph_sim, clock=clock)) is None, "another client's Graph"
    clock.advance(30.0)
    assert poller.quiet_link(ALICE, client) is None, "the answer no longer stands: a sweep asks Graph"


def deltas(sim: Controller) -> int:
    return sum(1 for r in sim.control.graph_requests() if r.operation == "graph.delta")

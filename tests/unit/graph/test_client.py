"""The router's Graph client against the simulator's Graph face over HTTPS (MSAL tokens included)."""

from __future__ import annotations

import threading
from email import message_from_bytes
from email.message import EmailMessage

import pytest

from router.clock import FrozenClock, SystemClock
from router.errors import (
    AccessDeniedError,
    AuthenticationError,
    ItemNotFoundError,
    MailboxNotFoundError,
    SendAsDeniedError,
    TransientTransportError,
)
from router.graph import send_right
from router.graph.clouds import NationalCloud, endpoints
from router.graph.mailbox import GraphMailbox
from router.graph.throttle import Throttle
from router.simulator import Controller
from tests.support.graph_simulator import (
    ALICE,
    APP,
    BOB,
    CAROL,
    CERT_APP,
    CERTIFICATE,
    DAVE,
    SVC,
    graph_client,
    graph_mailbox,
    graph_sim,
    graph_tls_dir,
)

__all__ = ["graph_sim", "graph_tls_dir"]


def _mime(from_: str, message_id: str, to: str = "z@fabrikam.com") -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"], msg["Message-ID"] = from_, to, "from the CRM", message_id
    msg.set_content("body")
    return msg.as_bytes()


def _drain(box: GraphMailbox, link: str | None = None, page_size: int = 50) -> tuple[list[str], str]:
    ids: list[str] = []
    while True:
        page = box.delta_page(link, page_size=page_size)
        ids += [m.id for m in page.messages]
        if page.delta_link:
            return ids, page.delta_link
        assert page.next_link
        link = page.next_link


def test_incoming_cycle_delta_batch_fetch_acknowledge(graph_sim: Controller) -> None:
    for n in range(25):
        graph_sim.control.inject(SVC, from_="a@fabrikam.com", subject=f"m{n}")
    box = graph_mailbox(graph_sim, SVC)
    ids, delta_link = _drain(box, page_size=10)
    assert len(ids) == 25
    mime = box.fetch_mime(ids)
    subjects = sorted(str(message_from_bytes(m)["Subject"]) for m in mime.values() if isinstance(m, bytes))
    assert subjects == sorted(f"m{n}" for n in range(25))
    assert len([r for r in graph_sim.simulator.graph.log if r.operation == "graph.batch"]) == 2
    done = box.acknowledge(ids[:20], categories=["Tracked to Dynamics 365"], mark_read=True)
    assert done == {i: i for i in ids[:20]}
    moved = box.acknowledge(ids[20:], move_to="deleteditems")
    assert all(isinstance(v, str) and v != k for k, v in moved.items())
    views = graph_sim.control.messages(SVC)
    assert len(views) == 20 and all(v.is_read and v.categories == ["Tracked to Dynamics 365"] for v in views)
    later = box.delta_page(delta_link)
    assert sorted(later.removed) == sorted(ids[20:]) and len(later.messages) == 20


def test_per_item_failures_in_a_batch_are_values(graph_sim: Controller) -> None:
    graph_sim.control.inject(SVC, from_="a@fabrikam.com", subject="kept")
    box = graph_mailbox(graph_sim, SVC)
    ids, _ = _drain(box)
    box.acknowledge(ids, move_to="deleteditems")
    again = box.fetch_mime(ids)
    assert isinstance(again[ids[0]], ItemNotFoundError) and again[ids[0]].code == "ErrorItemNotFound"


def test_an_expired_delta_link_resets(graph_sim: Controller) -> None:
    box = graph_mailbox(graph_sim, SVC)
    _, link = _drain(box)
    assert box.delta_page(link.replace("deltatoken=", "deltatoken=zz")).reset is True


def test_certificate_credentials_and_a_wrong_secret(graph_sim: Controller) -> None:
    cert_box = graph_mailbox(graph_sim, SVC, client_id=CERT_APP, secret=None, certificate=CERTIFICATE)
    assert cert_box.delta_page(None).delta_link
    wrong = graph_mailbox(graph_sim, SVC, client_id=APP, secret="not-the-secret-Zq7")
    with pytest.raises(AuthenticationError) as caught:
        wrong.delta_page(None)
    assert caught.value.code == "invalid_client" and "not-the-secret-Zq7" not in str(caught.value)


def test_national_cloud_scopes(graph_sim: Controller) -> None:
    assert endpoints("china").scope == "https://microsoftgraph.chinacloudapi.cn/.default"
    assert endpoints(NationalCloud.US_GOV).authority_host == "https://login.microsoftonline.us"
    box = GraphMailbox(graph_client(graph_sim, cloud=NationalCloud.US_GOV), SVC)
    assert box.delta_page(None).delta_link


def test_429_retry_after_is_honoured_then_the_request_succeeds(graph_sim: Controller) -> None:
    graph_sim.control.fault("server_busy", "graph.delta", count=2, back_off_ms=1000)
    clock = FrozenClock()
    box = GraphMailbox(graph_client(graph_sim, clock=clock), SVC)
    assert box.delta_page(None).delta_link
    statuses = [r.status for r in graph_sim.simulator.graph.log if r.operation == "graph.delta"]
    assert statuses == [429, 429, 200]
    assert clock.monotonic() == 2.0  # both "Retry-After: 1" were waited out before asking again


def test_503_until_attempts_run_out_is_transient_with_back_off(graph_sim: Controller) -> None:
    graph_sim.control.fault("http_503", "graph.delta", count=4)
    with pytest.raises(TransientTransportError) as caught:
        graph_mailbox(graph_sim, SVC).delta_page(None)
    assert caught.value.code == "ServiceUnavailable" and caught.value.back_off == 1.0


def test_graph_errors_map_into_the_error_tree(graph_sim: Controller) -> None:
    with pytest.raises(AccessDeniedError) as denied:
        graph_mailbox(graph_sim, DAVE).delta_page(None)
    assert denied.value.code == "ErrorAccessDenied" and "access policy" in denied.value.hint
    with pytest.raises(MailboxNotFoundError):
        graph_mailbox(graph_sim, "nobody@contoso.com").delta_page(None)
    with pytest.raises(SendAsDeniedError) as send_denied:
        graph_mailbox(graph_sim, SVC).send_mime(_mime(CAROL, "<d@x>"))
    assert send_denied.value.code == "ErrorSendAsDenied" and not send_denied.value.transient


def test_send_mime_then_find_it_in_sent_items(graph_sim: Controller) -> None:
    box = graph_mailbox(graph_sim, SVC)
    assert box.find_sent("<ours.1@crm>") is None
    box.send_mime(_mime(ALICE, "<ours.1@crm>"))
    assert box.find_sent("<ours.1@crm>") is not None
    assert [message_from_bytes(e.mime)["Message-ID"] for e in graph_sim.control.journal()] == ["<ours.1@crm>"]


def test_detect_send_right_asks_exchange_and_leaves_nothing(graph_sim: Controller) -> None:
    box = graph_mailbox(graph_sim, SVC)
    clock = SystemClock()
    found = {p: send_right.detect_send_right(box, p, clock=clock) for p in (ALICE, BOB, CAROL, SVC)}
    assert found == {
        ALICE: send_right.SEND_AS,
        BOB: send_right.SEND_ON_BEHALF,
        CAROL: send_right.NONE,
        SVC: send_right.SEND_AS,
    }
    for folder in ("inbox", "sentitems", "drafts"):
        assert graph_sim.control.messages(SVC, folder) == []
    assert graph_sim.control.journal() == []


def test_the_client_keeps_to_four_concurrent_requests_per_mailbox(graph_sim: Controller) -> None:
    graph_sim.control.fault("slow", "graph.folder", count=8, delay_seconds=0.5)
    client = graph_client(graph_sim)
    errors: list[Exception] = []

    def call() -> None:
        try:
            client.request("GET", SVC, f"/users/{SVC}/mailFolders/inbox")
        except Exception as exc:  # collected: the assertion below names any failure
            errors.append(exc)

    threads = [threading.Thread(target=call) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert graph_sim.simulator.graph.peak[SVC] == 4
    assert {r.status for r in graph_sim.simulator.graph.log} == {200}


def test_one_token_serves_many_requests_and_a_401_renews_it_once(graph_sim: Controller) -> None:
    client = graph_client(graph_sim)
    for _ in range(5):
        client.request("GET", SVC, f"/users/{SVC}/mailFolders/inbox")
    issued = graph_sim.simulator.tokens._tokens
    assert len(issued) == 1
    graph_sim.control.fault("http_401", "graph.folder")
    client.request("GET", SVC, f"/users/{SVC}/mailFolders/inbox")
    assert len(issued) == 2
    statuses = [r.status for r in graph_sim.simulator.graph.log]
    assert statuses[-2:] == [401, 200]


def test_a_503_holds_back_the_whole_app_and_a_429_only_its_mailbox() -> None:
    clock = FrozenClock()
    throttle = Throttle(clock)
    throttle.back_off(SVC, 3.0)
    throttle.wait(ALICE)
    assert clock.monotonic() == 0.0
    throttle.wait(SVC)
    assert clock.monotonic() == 3.0
    throttle.back_off(None, 2.0)
    throttle.wait(ALICE)
    assert clock.monotonic() == 5.0


def test_a_batch_of_four_side_by_side_sends_holds_all_four_of_its_mailboxs_slots() -> None:
    throttle = Throttle(FrozenClock())
    entered = threading.Event()

    def one_more() -> None:
        with throttle.slot(SVC):
            entered.set()

    with throttle.slot(SVC, weight=4):
        other = threading.Thread(target=one_more)
        other.start()
        assert not entered.wait(0.2), "a fifth request to the mailbox waits for the batch"
        with throttle.slot(ALICE, weight=9):  # another mailbox's slots; a weight past the limit takes all
            pass
    assert entered.wait(5.0), "the batch done, the waiting request goes"
    other.join()


def test_a_throttled_batch_step_is_sent_again_after_its_retry_after(graph_sim: Controller) -> None:
    for n in range(3):
        graph_sim.control.inject(SVC, from_="a@fabrikam.com", subject=f"b{n}")
    clock = FrozenClock()
    box = GraphMailbox(graph_client(graph_sim, clock=clock), SVC)
    ids, _ = _drain(box)
    graph_sim.control.fault("server_busy", "graph.value", back_off_ms=2000)
    mime = box.fetch_mime(ids)
    assert all(isinstance(m, bytes) for m in mime.values())
    assert clock.monotonic() == 2.0
    values = [r.status for r in graph_sim.simulator.graph.log if r.operation == "graph.value"]
    assert values == [429, 200, 200, 200]


def test_a_draft_from_mime_then_sent_on_behalf(graph_sim: Controller) -> None:
    box = graph_mailbox(graph_sim, SVC)
    draft = box.create_draft(_mime(BOB, "<draft.1@crm>"))
    assert [v.subject for v in graph_sim.control.messages(SVC, "drafts")] == ["from the CRM"]
    box.send_draft(draft)
    assert graph_sim.control.messages(SVC, "drafts") == []
    assert box.find_sent("<draft.1@crm>") is not None
    sent = message_from_bytes(graph_sim.control.journal()[0].mime)
    assert sent["From"] == "Bob <bob@contoso.com>"
    assert sent["Sender"] == "CRM Service <crm.service@contoso.com>"

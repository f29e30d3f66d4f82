"""What every MailboxSession does, whatever the transport (router/mailbox/session.py)."""

from __future__ import annotations

from email import message_from_bytes
from email.message import EmailMessage

import pytest

from router.errors import ItemNotFoundError, SendAsDeniedError, TransportError
from router.mailbox.session import Acknowledge, MailboxSession, MessageContent
from tests.contract.mailbox.conftest import Box
from tests.support.graph_simulator import ALICE, CAROL, SVC


def _inject(box: Box, count: int) -> list[str]:
    return [box.sim.control.inject(SVC, from_="a@fabrikam.com", subject=f"m{n}",
                                   message_id=f"<m{n}@fabrikam.com>") for n in range(count)]


def _sync_all(session: MailboxSession, state: str | None, max_changes: int = 50) -> tuple[list[str], str]:
    ids: list[str] = []
    while True:
        page = session.sync_page(state, max_changes=max_changes)
        assert not page.reset and page.state
        ids += [i.id for i in page.items]
        state = page.state
        if not page.more:
            return ids, state


def test_it_is_a_mailbox_session(box: Box) -> None:
    assert isinstance(box.session, MailboxSession) and box.session.address == SVC


def test_sync_pages_then_nothing_new_then_only_the_new(box: Box) -> None:
    _inject(box, 7)
    first = box.session.sync_page(None, max_changes=3)
    assert len(first.items) == 3 and first.more
    assert first.items[0].message_id == "<m0@fabrikam.com>"
    ids, state = _sync_all(box.session, first.state, max_changes=3)
    assert len(ids) == 4
    again = box.session.sync_page(state)
    assert again.items == [] and not again.more
    _inject(box, 1)
    assert [i.message_id for i in box.session.sync_page(state).items] == ["<m0@fabrikam.com>"]


def test_a_state_the_server_refuses_is_a_reset(box: Box) -> None:
    assert box.session.sync_page("not-a-state").reset


def test_fetch_mime_in_batches_with_per_item_errors(box: Box) -> None:
    _inject(box, 23)
    ids, _ = _sync_all(box.session, None)
    box.session.acknowledge(ids[:1], Acknowledge(move_to="deleteditems"))
    mime = box.session.fetch_mime(ids)
    assert isinstance(mime[ids[0]], ItemNotFoundError)
    subjects = {message_from_bytes(m)["Subject"] for m in mime.values() if isinstance(m, bytes)}
    assert subjects == {f"m{n}" for n in range(1, 23)}


def test_fetch_gives_mime_categories_and_arrival_with_per_item_errors(box: Box) -> None:
    _inject(box, 12)
    ids, _ = _sync_all(box.session, None)
    box.session.acknowledge(ids[:1], Acknowledge(categories=("Mine",)))
    box.session.acknowledge(ids[1:2], Acknowledge(move_to="deleteditems"))
    fetched = box.session.fetch(ids)
    assert isinstance(fetched[ids[1]], ItemNotFoundError)
    first = fetched[ids[0]]
    assert isinstance(first, MessageContent) and first.categories == ("Mine",)
    assert first.received is not None and first.received.tzinfo is not None
    contents = [c for c in fetched.values() if isinstance(c, MessageContent)]
    subjects = {message_from_bytes(c.mime)["Subject"] for c in contents}
    assert subjects == {f"m{n}" for n in range(12) if n != 1}


def test_acknowledge_marks_and_moves(box: Box) -> None:
    _inject(box, 2)
    ids, state = _sync_all(box.session, None)
    marked = box.session.acknowledge(ids[:1], Acknowledge(categories=("Tracked",), mark_read=True))
    assert marked == {ids[0]: ids[0]}
    moved = box.session.acknowledge(ids[1:], Acknowledge(move_to="deleteditems"))
    assert isinstance(moved[ids[1]], str) and moved[ids[1]] != ids[1]
    views = box.sim.control.messages(SVC)
    assert [(v.categories, v.is_read) for v in views] == [(["Tracked"], True)]
    assert [v.subject for v in box.sim.control.messages(SVC, "deleteditems")] == ["m1"]
    assert box.session.sync_page(state).removed == [ids[1]]


def _mime(from_: str, message_id: str) -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"], msg["Message-ID"] = from_, "z@fabrikam.com", "out", message_id
    msg.set_content("body")
    return msg.as_bytes()


def test_send_then_find_in_sent_items_and_denied_send_as(box: Box) -> None:
    assert box.session.find_sent("<out.1@crm>") is None
    box.session.send_mime(_mime(ALICE, "<out.1@crm>"))
    assert box.session.find_sent("<out.1@crm>") is not None
    with pytest.raises(SendAsDeniedError):
        box.session.send_mime(_mime(CAROL, "<out.2@crm>"))
    assert box.session.find_sent("<out.2@crm>") is None
    sent = [message_from_bytes(e.mime)["Message-ID"] for e in box.sim.control.journal()]
    assert sent == ["<out.1@crm>"]


def test_wait_for_changes_returns_within_the_timeout(box: Box) -> None:
    before = box.clock.monotonic()
    box.session.wait_for_changes(30.0)
    assert box.clock.monotonic() - before <= 30.0


def test_sync_reports_when_each_message_arrived(box: Box) -> None:
    _inject(box, 2)
    items = box.session.sync_page(None).items
    assert len(items) == 2 and all(i.received is not None and i.received.tzinfo for i in items)


def test_acknowledge_moves_to_a_folder_path_or_deletes(box: Box) -> None:
    _inject(box, 2)
    ids, _ = _sync_all(box.session, None)
    moved = box.session.acknowledge(ids[:1], Acknowledge(move_to="Inbox/CRM"))
    assert isinstance(moved[ids[0]], str)
    deleted = box.session.acknowledge(ids[1:], Acknowledge(delete=True))
    assert not isinstance(deleted[ids[1]], Exception)
    assert [v.subject for v in box.sim.control.messages(SVC, "Inbox/CRM")] == ["m0"]
    assert [v.subject for v in box.sim.control.messages(SVC, "deleteditems")] == ["m1"]
    assert box.sim.control.messages(SVC) == []


def test_a_missing_folder_is_a_permanent_error(box: Box) -> None:
    _inject(box, 1)
    ids, _ = _sync_all(box.session, None)
    with pytest.raises(TransportError) as caught:
        box.session.acknowledge(ids, Acknowledge(move_to="Inbox/Nowhere"))
    assert not caught.value.transient
    assert [v.subject for v in box.sim.control.messages(SVC)] == ["m0"]

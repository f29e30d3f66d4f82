"""The decision trail: recorded in order, found by Message-ID across mailboxes."""

from __future__ import annotations

import pytest

from router.clock import FrozenClock
from router.state import Direction, StateStore

from .conftest import T0


def test_decisions_are_found_by_any_spelling_of_the_message_id(store: StateStore, clock: FrozenClock) -> None:
    store.trail.record(direction=Direction.INCOMING, mailbox="a@x.test", message_key="<m@x>", stage="screen",
                       result="accepted", internet_message_id="m@x", item_id="AAMk1")
    clock.advance(1)
    store.trail.record(direction=Direction.INCOMING, mailbox="a@x.test", message_key="<m@x>", stage="deliver",
                       result="delivered", internet_message_id="<m@x>", correlation_method="TrackingToken",
                       activity_id="act-1", text="delivered as email activity")
    store.trail.record(direction=Direction.INCOMING, mailbox="b@x.test", message_key="<m@x>", stage="screen",
                       result="screened", reason_code="AutoReply", internet_message_id="<m@x>")
    trail = store.trail.for_message_id(" m@x ")
    assert [(d.mailbox, d.stage, d.result) for d in trail] == [
        ("a@x.test", "screen", "accepted"), ("a@x.test", "deliver", "delivered"),
        ("b@x.test", "screen", "screened")]
    delivered = trail[1]
    assert (delivered.correlation_method, delivered.activity_id, delivered.direction) == (
        "TrackingToken", "act-1", Direction.INCOMING)
    assert delivered.at > trail[0].at and trail[2].reason_code == "AutoReply"


def test_messages_without_message_id_are_found_by_key(store: StateStore) -> None:
    recorded = store.trail.record(direction=Direction.INCOMING, mailbox="a@x.test", message_key="sha256:ab",
                                  stage="parse", result="quarantined", reason_code="BadMime")
    assert recorded.internet_message_id is None and recorded.at == T0
    assert store.trail.for_message("a@x.test", "sha256:ab") == [recorded]
    assert store.trail.for_message("b@x.test", "sha256:ab") == []


def test_outgoing_decisions_are_recorded_too(store: StateStore) -> None:
    store.trail.record(direction=Direction.OUTGOING, mailbox="a@x.test", message_key="<out@x>", stage="send",
                       result="sent", internet_message_id="<out@x>", activity_id="email-1")
    assert store.trail.for_message_id("<out@x>")[0].direction is Direction.OUTGOING


def test_recent_lists_newest_first(store: StateStore, clock: FrozenClock) -> None:
    for n in range(3):
        store.trail.record(direction=Direction.INCOMING, mailbox="a@x.test" if n < 2 else "b@x.test",
                           message_key=f"<{n}@x>", stage="screen", result="accepted")
        clock.advance(1)
    assert [d.message_key for d in store.trail.recent()] == ["<2@x>", "<1@x>", "<0@x>"]
    assert [d.message_key for d in store.trail.recent("a@x.test", limit=1)] == ["<1@x>"]


def test_a_decision_joins_the_callers_transaction(store: StateStore) -> None:
    with pytest.raises(RuntimeError), store.db.write() as tx:
        store.trail.record(direction=Direction.INCOMING, mailbox="a@x.test", message_key="<m@x>",
                           stage="deliver", result="delivered", internet_message_id="<m@x>", tx=tx)
        raise RuntimeError("crash before commit")
    assert store.trail.for_message_id("<m@x>") == []

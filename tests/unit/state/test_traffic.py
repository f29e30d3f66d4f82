"""Traffic counts are derived from the ledger and the send records, per mailbox and window."""

from __future__ import annotations

from datetime import timedelta

from router.clock import FrozenClock
from router.state import StateStore, TrafficCounts

from .conftest import T0


def _deliver(store: StateStore, mailbox: str, key: str) -> None:
    claim = store.ledger.claim(mailbox, key, owner="w")
    store.ledger.mark_delivered(claim, f"act-{key}")
    store.ledger.mark_acknowledged(claim)


def _send(store: StateStore, mailbox: str, email: str, *, fail: bool = False) -> None:
    claim = store.sends.claim(mailbox, email, owner="w", message_id=f"<{email}@x>")
    store.sends.mark_rendered(claim)
    if fail:
        store.sends.mark_failed(claim, "invalid recipients")
        return
    store.sends.mark_submitted(claim)
    store.sends.mark_recorded(claim)


def test_counts_over_the_last_hour(store: StateStore, clock: FrozenClock) -> None:
    _deliver(store, "a@x.test", "<old@x>")
    _send(store, "a@x.test", "old")
    clock.advance(1800)
    _deliver(store, "a@x.test", "<1@x>")
    _deliver(store, "a@x.test", "<2@x>")
    screened = store.ledger.claim("a@x.test", "<s@x>", owner="w")
    store.ledger.mark_screened(screened)
    quarantined = store.ledger.claim("b@x.test", "<q@x>", owner="w")
    store.ledger.mark_quarantined(quarantined, reason="bad")
    _send(store, "b@x.test", "e1")
    _send(store, "b@x.test", "e2", fail=True)
    store.ledger.claim("c@x.test", "<unfinished@x>", owner="w")
    clock.advance(1801)
    counts = store.traffic.last_hour()
    assert counts == {
        "a@x.test": TrafficCounts("a@x.test", delivered=2, screened=1),
        "b@x.test": TrafficCounts("b@x.test", quarantined=1, sent=1, failed=1),
    }
    assert (counts["a@x.test"].messages_in, counts["b@x.test"].messages_out) == (2, 1)


def test_counts_since_a_given_time(store: StateStore) -> None:
    _deliver(store, "a@x.test", "<1@x>")
    assert store.traffic.since(T0) == {"a@x.test": TrafficCounts("a@x.test", delivered=1)}
    assert store.traffic.since(T0 + timedelta(seconds=1)) == {}
    assert store.traffic.for_mailbox("a@x.test", T0).delivered == 1
    assert store.traffic.for_mailbox("z@x.test", T0) == TrafficCounts("z@x.test")

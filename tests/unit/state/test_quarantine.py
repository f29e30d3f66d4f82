"""The quarantine: add with the ledger, list, show, retry (reopening the ledger), resolve."""

from __future__ import annotations

import pytest

from router.clock import FrozenClock
from router.errors import StateStoreError
from router.state import ClaimOutcome, LedgerStage, QuarantineStatus, StateStore

from .conftest import T0

BOX = "user@x.test"


def _quarantine(store: StateStore, key: str, *, delivered: bool = False, mailbox: str = BOX) -> int:
    claim = store.ledger.claim(mailbox, key, owner="w1", item_id=f"item-{key}")
    if delivered:
        store.ledger.mark_delivered(claim, f"act-{key}")
    with store.db.write() as tx:
        entry = store.quarantine.add(
            mailbox=mailbox, message_key=key, stage="acknowledge" if delivered else "parse",
            reason_code="AckFailed" if delivered else "BadMime", reason="it broke", item_id=f"item-{key}",
            internet_message_id=key, mime=b"Subject: x\r\n\r\nbody", tx=tx)
        store.ledger.mark_quarantined(claim, reason="it broke", tx=tx)
    return entry.id


def test_add_records_everything_and_the_ledger_together(store: StateStore) -> None:
    entry = store.quarantine.get(_quarantine(store, "<q@x>"))
    assert (entry.mailbox, entry.message_key, entry.item_id, entry.stage, entry.reason_code) == (
        BOX, "<q@x>", "item-<q@x>", "parse", "BadMime")
    assert (entry.status, entry.retry_count, entry.mime, entry.created_at) == (
        QuarantineStatus.OPEN, 0, b"Subject: x\r\n\r\nbody", T0)
    assert store.ledger.get(BOX, "<q@x>").stage is LedgerStage.QUARANTINED  # type: ignore[union-attr]


def test_a_failed_quarantine_leaves_neither_record(store: StateStore) -> None:
    claim = store.ledger.claim(BOX, "<q@x>", owner="w1")
    with pytest.raises(RuntimeError), store.db.write() as tx:
        store.quarantine.add(mailbox=BOX, message_key="<q@x>", stage="parse", reason_code="BadMime",
                             reason="x", tx=tx)
        store.ledger.mark_quarantined(claim, tx=tx)
        raise RuntimeError("crash before commit")
    assert store.quarantine.find(BOX, "<q@x>") is None
    assert store.ledger.get(BOX, "<q@x>").stage is LedgerStage.CLAIMED  # type: ignore[union-attr]


def test_a_reference_can_replace_the_raw_mime(store: StateStore) -> None:
    entry = store.quarantine.add(mailbox=BOX, message_key="<big@x>", stage="fetch", reason_code="TooLarge",
                                 reason="60 MB", mime_ref="quarantine/big.eml")
    assert (entry.mime, entry.mime_ref) == (None, "quarantine/big.eml")


def test_entries_filter_by_mailbox_and_status(store: StateStore, clock: FrozenClock) -> None:
    first = _quarantine(store, "<a@x>")
    clock.advance(1)
    _quarantine(store, "<b@x>", mailbox="other@x.test")
    clock.advance(1)
    third = _quarantine(store, "<c@x>")
    store.quarantine.resolve(third, "deleted by the admin")
    assert [e.message_key for e in store.quarantine.entries()] == ["<b@x>", "<a@x>"]
    assert [e.id for e in store.quarantine.entries(mailbox=BOX)] == [first]
    assert [e.id for e in store.quarantine.entries(status=QuarantineStatus.RESOLVED)] == [third]
    assert len(store.quarantine.entries(status=None)) == 3
    assert len(store.quarantine.entries(status=None, limit=2)) == 2
    assert store.quarantine.count() == 2 and store.quarantine.count(mailbox=BOX) == 1
    assert store.quarantine.count(status=QuarantineStatus.RESOLVED) == 1


def test_retry_reopens_an_undelivered_message_for_the_lane(store: StateStore) -> None:
    entry_id = _quarantine(store, "<a@x>")
    retried = store.quarantine.retry(entry_id)
    assert (retried.status, retried.retry_count) == (QuarantineStatus.RETRY, 1)
    assert retried.retry_requested_at == T0
    assert [e.id for e in store.quarantine.due_retries(BOX)] == [entry_id]
    assert store.quarantine.due_retries("other@x.test") == []
    claim = store.ledger.claim(BOX, "<a@x>", owner="w2")
    assert claim.outcome is ClaimOutcome.RECOVERED and claim.entry.stage is LedgerStage.CLAIMED


def test_retry_of_a_delivered_message_keeps_its_activity(store: StateStore) -> None:
    entry_id = _quarantine(store, "<a@x>", delivered=True)
    store.quarantine.retry(entry_id)
    claim = store.ledger.claim(BOX, "<a@x>", owner="w2")
    assert (claim.entry.stage, claim.entry.activity_id) == (LedgerStage.DELIVERED, "act-<a@x>")


def test_quarantined_again_after_a_retry_keeps_the_count(store: StateStore) -> None:
    entry_id = _quarantine(store, "<a@x>")
    store.quarantine.retry(entry_id)
    claim = store.ledger.claim(BOX, "<a@x>", owner="w2")
    with store.db.write() as tx:
        again = store.quarantine.add(mailbox=BOX, message_key="<a@x>", stage="deliver",
                                     reason_code="CrmRejected", reason="still broken", tx=tx)
        store.ledger.mark_quarantined(claim, tx=tx)
    assert (again.id, again.status, again.retry_count, again.stage) == (
        entry_id, QuarantineStatus.OPEN, 1, "deliver")
    assert again.mime == b"Subject: x\r\n\r\nbody"


def test_resolve_closes_an_entry(store: StateStore, clock: FrozenClock) -> None:
    entry_id = _quarantine(store, "<a@x>")
    clock.advance(60)
    resolved = store.quarantine.resolve(entry_id, "delivered on retry")
    assert (resolved.status, resolved.resolution) == (QuarantineStatus.RESOLVED, "delivered on retry")
    assert resolved.resolved_at == clock.now()
    with pytest.raises(StateStoreError, match="resolved and cannot be retried"):
        store.quarantine.retry(entry_id)


def test_unknown_entries_give_a_clear_error(store: StateStore) -> None:
    with pytest.raises(StateStoreError, match="no quarantine entry 42") as caught:
        store.quarantine.get(42)
    assert "quarantine list" in caught.value.hint
    with pytest.raises(StateStoreError, match="no quarantine entry 42"):
        store.quarantine.resolve(42, "x")
    assert store.quarantine.find(BOX, "<none@x>") is None

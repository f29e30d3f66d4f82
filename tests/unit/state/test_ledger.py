"""The incoming ledger: claims, leases, recoveries and stages, one query at a time."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import event

from router.clock import FrozenClock
from router.errors import ClaimLostError
from router.state import ClaimOutcome, ClaimPolicy, LedgerStage, StateStore
from router.state.claims import DEFAULT_LEASE

from .conftest import T0

BOX = "user@x.test"
KEY = "<m1@x.test>"


def test_first_claim_is_new_and_holds_the_message(store: StateStore) -> None:
    claim = store.ledger.claim(BOX, KEY, owner="w1", item_id="AAMk1", internet_message_id="m1@x.test")
    assert claim.outcome is ClaimOutcome.NEW and claim.acquired
    entry = claim.entry
    assert (entry.stage, entry.owner, entry.attempts, entry.recoveries) == (LedgerStage.CLAIMED, "w1", 1, 0)
    assert entry.item_id == "AAMk1" and entry.internet_message_id == "<m1@x.test>"
    assert entry.lease_until == T0 + DEFAULT_LEASE and entry.created_at == T0


def test_a_held_claim_is_busy_for_another_worker(store: StateStore) -> None:
    store.ledger.claim(BOX, KEY, owner="w1")
    other = store.ledger.claim(BOX, KEY, owner="w2")
    assert other.outcome is ClaimOutcome.BUSY and not other.acquired
    assert other.entry.owner == "w1"


def test_the_same_mailbox_key_in_another_mailbox_is_a_separate_message(store: StateStore) -> None:
    store.ledger.claim(BOX, KEY, owner="w1")
    assert store.ledger.claim("other@x.test", KEY, owner="w2").outcome is ClaimOutcome.NEW


def test_an_expired_claim_of_a_dead_worker_is_recovered_and_counted(store: StateStore,
                                                                     clock: FrozenClock) -> None:
    store.ledger.claim(BOX, KEY, owner="w1")
    clock.advance(DEFAULT_LEASE.total_seconds())
    claim = store.ledger.claim(BOX, KEY, owner="w2", item_id="AAMk2")
    assert claim.outcome is ClaimOutcome.RECOVERED
    assert (claim.entry.owner, claim.entry.attempts, claim.entry.recoveries) == ("w2", 2, 1)
    assert claim.entry.item_id == "AAMk2"


def test_a_released_claim_is_reclaimed_without_counting_a_recovery(store: StateStore,
                                                                    clock: FrozenClock) -> None:
    first = store.ledger.claim(BOX, KEY, owner="w1")
    released = store.ledger.release(first, retry_at=T0 + timedelta(minutes=1), error="CRM busy")
    assert (released.owner, released.lease_until, released.last_error) == (None, None, "CRM busy")
    again = store.ledger.claim(BOX, KEY, owner="w2")
    assert again.outcome is ClaimOutcome.RECOVERED
    assert (again.entry.attempts, again.entry.recoveries, again.entry.retry_at) == (2, 0, None)


def test_the_same_owner_may_claim_again(store: StateStore) -> None:
    store.ledger.claim(BOX, KEY, owner="w1")
    again = store.ledger.claim(BOX, KEY, owner="w1")
    assert again.outcome is ClaimOutcome.RECOVERED and again.entry.recoveries == 0


def test_stages_move_forward_and_end_done(store: StateStore, clock: FrozenClock) -> None:
    claim = store.ledger.claim(BOX, KEY, owner="w1", item_id="AAMk1")
    clock.advance(5)
    delivered = store.ledger.mark_delivered(claim, "act-1")
    assert (delivered.stage, delivered.activity_id) == (LedgerStage.DELIVERED, "act-1")
    assert delivered.delivered_at == T0 + timedelta(seconds=5) and delivered.owner == "w1"
    acked = store.ledger.mark_acknowledged(claim, item_id="AAMk1-moved")
    assert (acked.stage, acked.owner, acked.lease_until, acked.item_id) == (
        LedgerStage.ACKNOWLEDGED, None, None, "AAMk1-moved")
    assert acked.finished_at == T0 + timedelta(seconds=5)
    later = store.ledger.claim(BOX, KEY, owner="w2")
    assert later.outcome is ClaimOutcome.DONE and not later.acquired


def test_screened_and_quarantined_are_final(store: StateStore) -> None:
    screened = store.ledger.claim(BOX, "<a@x>", owner="w1")
    assert store.ledger.mark_screened(screened).stage is LedgerStage.SCREENED
    quarantined = store.ledger.claim(BOX, "<b@x>", owner="w1")
    store.ledger.mark_delivered(quarantined, "act-b")
    entry = store.ledger.mark_quarantined(quarantined, reason="acknowledge failed: folder missing")
    assert (entry.stage, entry.activity_id, entry.last_error) == (
        LedgerStage.QUARANTINED, "act-b", "acknowledge failed: folder missing")
    for key in ("<a@x>", "<b@x>"):
        assert store.ledger.claim(BOX, key, owner="w2").outcome is ClaimOutcome.DONE


def test_steps_out_of_order_are_refused(store: StateStore) -> None:
    claim = store.ledger.claim(BOX, KEY, owner="w1")
    with pytest.raises(ClaimLostError):
        store.ledger.mark_acknowledged(claim)
    store.ledger.mark_delivered(claim, "act-1")
    with pytest.raises(ClaimLostError):
        store.ledger.mark_screened(claim)


def test_a_worker_that_lost_its_claim_cannot_finish(store: StateStore, clock: FrozenClock) -> None:
    stale = store.ledger.claim(BOX, KEY, owner="w1", item_id="AAMk1")
    clock.advance(DEFAULT_LEASE.total_seconds() + 1)
    store.ledger.claim(BOX, KEY, owner="w2")
    with pytest.raises(ClaimLostError) as caught:
        store.ledger.mark_delivered(stale, "act-dup")
    assert caught.value.mailbox == BOX and "taken over" in str(caught.value)
    assert store.ledger.get(BOX, KEY).activity_id is None  # type: ignore[union-attr]


def test_renew_extends_the_lease(store: StateStore, clock: FrozenClock) -> None:
    claim = store.ledger.claim(BOX, KEY, owner="w1")
    clock.advance(200)
    renewed = store.ledger.renew(claim)
    assert renewed.entry.lease_until == T0 + timedelta(seconds=200) + DEFAULT_LEASE
    clock.advance(DEFAULT_LEASE.total_seconds() - 1)
    assert store.ledger.claim(BOX, KEY, owner="w2").outcome is ClaimOutcome.BUSY


def test_a_message_that_keeps_killing_its_worker_is_exhausted(db_url: str, clock: FrozenClock) -> None:
    policy = ClaimPolicy(lease=timedelta(seconds=10), max_recoveries=2)
    with StateStore.open(db_url, clock, policy=policy) as store:
        outcomes = []
        for worker in range(4):
            outcomes.append(store.ledger.claim(BOX, KEY, owner=f"w{worker}").outcome)
            clock.advance(10)
        assert outcomes == [ClaimOutcome.NEW, ClaimOutcome.RECOVERED, ClaimOutcome.RECOVERED,
                            ClaimOutcome.EXHAUSTED]
        claim = store.ledger.claim(BOX, KEY, owner="w9")
        assert claim.outcome is ClaimOutcome.EXHAUSTED and claim.acquired
        assert store.ledger.mark_quarantined(claim, reason="crashed its worker 4 times").stage \
            is LedgerStage.QUARANTINED


def test_pending_lists_released_due_and_dead_claims(store: StateStore, clock: FrozenClock) -> None:
    live = store.ledger.claim(BOX, "<live@x>", owner="w1")
    later = store.ledger.claim(BOX, "<later@x>", owner="w1")
    store.ledger.release(later, retry_at=T0 + timedelta(minutes=10))
    now = store.ledger.claim(BOX, "<now@x>", owner="w1")
    store.ledger.release(now)
    done = store.ledger.claim(BOX, "<done@x>", owner="w1")
    store.ledger.mark_screened(done)
    store.ledger.claim("other@x.test", "<else@x>", owner="w1")
    assert [e.message_key for e in store.ledger.pending(BOX)] == ["<now@x>"]
    clock.advance(DEFAULT_LEASE.total_seconds())
    assert [e.message_key for e in store.ledger.pending(BOX)] == ["<live@x>", "<now@x>"]
    clock.advance(600)
    assert [e.message_key for e in store.ledger.pending(BOX)] == ["<live@x>", "<later@x>", "<now@x>"]
    assert live.entry.stage is LedgerStage.CLAIMED


def test_unfinished_count_counts_claimed_and_delivered(store: StateStore) -> None:
    a = store.ledger.claim(BOX, "<a@x>", owner="w1")
    b = store.ledger.claim(BOX, "<b@x>", owner="w1")
    store.ledger.mark_delivered(b, "act-b")
    c = store.ledger.claim(BOX, "<c@x>", owner="w1")
    store.ledger.mark_screened(c)
    assert store.ledger.unfinished_count(BOX) == 2
    store.ledger.mark_screened(a)
    assert store.ledger.unfinished_count(BOX) == 1
    assert store.ledger.unfinished_count("nobody@x.test") == 0


def test_abandon_releases_every_claim_of_an_owner(store: StateStore) -> None:
    store.ledger.claim(BOX, "<a@x>", owner="w1")
    store.ledger.claim(BOX, "<b@x>", owner="w1")
    store.ledger.claim(BOX, "<c@x>", owner="w2")
    assert store.ledger.abandon("w1") == 2
    takeover = store.ledger.claim(BOX, "<a@x>", owner="w3")
    assert takeover.outcome is ClaimOutcome.RECOVERED and takeover.entry.recoveries == 0
    assert store.ledger.claim(BOX, "<c@x>", owner="w3").outcome is ClaimOutcome.BUSY


def test_find_by_message_id_accepts_any_spelling(store: StateStore) -> None:
    store.ledger.claim(BOX, "<m1@x.test>", owner="w1", internet_message_id="<m1@x.test>")
    store.ledger.claim("b@x.test", "<m1@x.test>", owner="w1", internet_message_id="m1@x.test")
    found = store.ledger.find_by_message_id("  m1@x.test ")
    assert [e.mailbox for e in found] == [BOX, "b@x.test"]
    assert store.ledger.find_by_message_id("<nope@x>") == []


def test_get_returns_none_for_an_unknown_message(store: StateStore) -> None:
    assert store.ledger.get(BOX, KEY) is None


def test_reopen_returns_a_delivered_message_to_delivered(store: StateStore) -> None:
    claim = store.ledger.claim(BOX, KEY, owner="w1")
    store.ledger.mark_delivered(claim, "act-1")
    store.ledger.mark_quarantined(claim, reason="ack failed")
    reopened = store.ledger.reopen(BOX, KEY)
    assert reopened is not None
    assert (reopened.stage, reopened.activity_id, reopened.owner) == (LedgerStage.DELIVERED, "act-1", None)
    assert [e.message_key for e in store.ledger.pending(BOX)] == [KEY]


def test_reopen_returns_an_undelivered_message_to_claimed(store: StateStore) -> None:
    claim = store.ledger.claim(BOX, KEY, owner="w1")
    store.ledger.mark_quarantined(claim, reason="bad MIME")
    reopened = store.ledger.reopen(BOX, KEY)
    assert reopened is not None and reopened.stage is LedgerStage.CLAIMED and reopened.finished_at is None
    assert store.ledger.claim(BOX, KEY, owner="w2").outcome is ClaimOutcome.RECOVERED


def test_reopen_ignores_messages_that_are_not_quarantined(store: StateStore) -> None:
    store.ledger.claim(BOX, KEY, owner="w1")
    assert store.ledger.reopen(BOX, KEY) is None
    assert store.ledger.reopen(BOX, "<unknown@x>") is None


def test_finished_keys_names_only_this_mailboxs_messages_at_a_final_stage(store: StateStore) -> None:
    done = store.ledger.claim(BOX, "<done@x.test>", owner="w1")
    store.ledger.mark_delivered(done, "activity-1")
    store.ledger.mark_acknowledged(done)
    screened = store.ledger.claim(BOX, "<screened@x.test>", owner="w1")
    store.ledger.mark_screened(screened)
    delivered = store.ledger.claim(BOX, "<delivered@x.test>", owner="w1")
    store.ledger.mark_delivered(delivered, "activity-2")
    store.ledger.claim(BOX, "<claimed@x.test>", owner="w1")
    other = store.ledger.claim("other@x.test", "<elsewhere@x.test>", owner="w1")
    store.ledger.mark_screened(other)
    asked = ["<done@x.test>", "<screened@x.test>", "<delivered@x.test>", "<claimed@x.test>",
             "<elsewhere@x.test>", "<never@x.test>"]
    assert store.ledger.finished_keys(BOX, asked) == {"<done@x.test>", "<screened@x.test>"}
    assert store.ledger.finished_keys(BOX, []) == set()


def test_a_batch_is_delivered_and_acknowledged_in_one_statement_each(store: StateStore,
                                                                      clock: FrozenClock) -> None:
    claims = [store.ledger.claim(BOX, f"<m{i}@x.test>", owner="w1", item_id=f"AAMk{i}") for i in range(3)]
    clock.advance(5)
    statements = _counting(store)
    with store.db.write() as tx:
        store.ledger.mark_delivered_all([(c, f"act-{i}") for i, c in enumerate(claims)], tx=tx)
    assert len([s for s in statements if "incoming_ledger" in s]) == 1  # rows with their own activity ids
    delivered = [store.ledger.get(BOX, c.entry.message_key) for c in claims]
    assert [(e.stage, e.activity_id, e.delivered_at) for e in delivered if e] == [
        (LedgerStage.DELIVERED, f"act-{i}", T0 + timedelta(seconds=5)) for i in range(3)]
    with store.db.write() as tx:
        store.ledger.mark_acknowledged_all([(claims[0], "AAMk-moved"), (claims[1], None), (claims[2], None)],
                                           tx=tx)
    done = [store.ledger.get(BOX, c.entry.message_key) for c in claims]
    assert [(e.stage, e.owner, e.lease_until, e.item_id) for e in done if e] == [
        (LedgerStage.ACKNOWLEDGED, None, None, "AAMk-moved"), (LedgerStage.ACKNOWLEDGED, None, None, "AAMk1"),
        (LedgerStage.ACKNOWLEDGED, None, None, "AAMk2")]


def test_a_batch_with_one_lost_claim_names_it_and_moves_none(store: StateStore, clock: FrozenClock) -> None:
    claims = [store.ledger.claim(BOX, f"<m{i}@x.test>", owner="w1") for i in range(3)]
    clock.advance(DEFAULT_LEASE.total_seconds() + 1)
    store.ledger.claim(BOX, "<m1@x.test>", owner="w2")  # Taken over: w1's claim on m1 is lost.
    with pytest.raises(ClaimLostError, match=r"<m1@x\.test>"), store.db.write() as tx:
        store.ledger.mark_delivered_all([(c, "act") for c in claims], tx=tx)
    stages = {e.stage for c in claims if (e := store.ledger.get(BOX, c.entry.message_key))}
    assert stages == {LedgerStage.CLAIMED}, "the whole batch's step is rolled back"


def _counting(store: StateStore) -> list[str]:
    """The statements run on the store's engine from now on."""
    seen: list[str] = []
    event.listen(store.db.engine, "before_cursor_execute",
                 lambda _c, _cur, statement, *_a: seen.append(statement))
    return seen




def test_a_batch_claims_what_it_read_without_reading_it_again(store: StateStore, clock: FrozenClock) -> None:
    store.ledger.claim(BOX, "<old@x.test>", owner="w1")
    clock.advance(DEFAULT_LEASE.total_seconds())
    statements = _counting(store)
    with store.ledger.batch() as batch:
        assert batch.get(BOX, KEY) is None
        new = batch.claim(BOX, KEY, owner="w2")
        first = batch.get(BOX, KEY)  # the batch sees its own claim
        old = batch.get(BOX, "<old@x.test>")
        recovered = batch.claim(BOX, "<old@x.test>", owner="w2")
        again = batch.claim(BOX, KEY, owner="w3")  # read after its claim: held by w2
        unread = batch.claim(BOX, "<new@x.test>", owner="w2")  # never read: the claim reads it
    assert new.outcome is ClaimOutcome.NEW and first is not None and first.owner == "w2"
    assert old is not None and old.owner == "w1"
    assert recovered.outcome is ClaimOutcome.RECOVERED and recovered.entry.recoveries == 1
    assert again.outcome is ClaimOutcome.BUSY and again.entry.owner == "w2"
    assert unread.outcome is ClaimOutcome.NEW
    ledger_selects = [s for s in statements
                      if s.lstrip().upper().startswith("SELECT") and "incoming_ledger" in s]
    assert len(ledger_selects) == 4  # three gets and the one claim that followed no get


def test_advance_many_moves_each_row_to_its_own_values_in_one_statement_per_column_set(
        store: StateStore, clock: FrozenClock) -> None:
    from router.state.ledger import _ROWS

    mine = [store.ledger.claim(BOX, f"<a{i}@x.test>", owner="w1") for i in range(3)]
    theirs = store.ledger.claim(BOX, "<b@x.test>", owner="w2")
    lost = store.ledger.claim(BOX, "<c@x.test>", owner="w3")
    steps: list[tuple[int, str, dict[str, object]]] = [
        (mine[0].entry.id, "w1", {"stage": "delivered", "activity_id": "act-0"}),
        (mine[1].entry.id, "w1", {"stage": "delivered", "activity_id": "act-1"}),
        (theirs.entry.id, "w2", {"stage": "delivered", "activity_id": "act-b"}),  # another owner
        (lost.entry.id, "w1", {"stage": "delivered", "activity_id": "act-c"}),  # not w1's claim: lost
        (mine[2].entry.id, "w1", {"stage": "delivered"}),  # other columns: a statement of its own
    ]
    statements = _counting(store)
    with store.db.write() as tx:
        moved = _ROWS.advance_many(tx, steps, ["claimed"])
    assert sorted(moved) == sorted([mine[0].entry.id, mine[1].entry.id, theirs.entry.id, mine[2].entry.id])
    assert len([s for s in statements if s.lstrip().upper().startswith("UPDATE")]) == 2
    rows = {key: store.ledger.get(BOX, key) for key in ("<a0@x.test>", "<a1@x.test>", "<a2@x.test>",
                                                          "<b@x.test>", "<c@x.test>")}
    assert [(e.stage, e.activity_id) for e in rows.values() if e] == [
        (LedgerStage.DELIVERED, "act-0"), (LedgerStage.DELIVERED, "act-1"), (LedgerStage.DELIVERED, None),
        (LedgerStage.DELIVERED, "act-b"), (LedgerStage.CLAIMED, None)]
    with store.db.write() as tx:  # already moved: nothing allowed moves again
        assert _ROWS.advance_many(tx, steps[:2], ["claimed"]) == {}

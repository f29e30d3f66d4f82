"""Outgoing send records: the Message-ID is recorded first; recovery knows when to look in Sent Items."""

from __future__ import annotations

import pytest

from router.clock import FrozenClock
from router.errors import ClaimLostError, StateStoreError
from router.state import ClaimOutcome, SendStage, StateStore
from router.state.claims import DEFAULT_LEASE

from .conftest import T0

BOX = "user@x.test"


def test_the_first_claim_records_the_message_id_before_anything_is_sent(store: StateStore) -> None:
    claim = store.sends.claim(BOX, "email-1", owner="w1", message_id="r1@router.x")
    assert claim.outcome is ClaimOutcome.NEW and claim.message_id == "<r1@router.x>"
    assert not claim.may_have_been_sent
    assert store.sends.by_message_id("r1@router.x") == claim.record
    assert store.sends.by_email_id("email-1") == claim.record


def test_a_later_claim_keeps_the_first_message_id(store: StateStore) -> None:
    first = store.sends.claim(BOX, "email-1", owner="w1", message_id="<r1@router.x>")
    store.sends.release(first, error="ErrorServerBusy")
    again = store.sends.claim(BOX, "email-1", owner="w2", message_id="<r2@router.x>")
    assert again.outcome is ClaimOutcome.RECOVERED and again.message_id == "<r1@router.x>"
    assert (again.record.attempts, again.record.last_error) == (2, "ErrorServerBusy")
    assert store.sends.by_message_id("<r2@router.x>") is None


def test_a_held_claim_is_busy(store: StateStore) -> None:
    store.sends.claim(BOX, "email-1", owner="w1", message_id="<r1@x>")
    assert store.sends.claim(BOX, "email-1", owner="w2", message_id="<r2@x>").outcome is ClaimOutcome.BUSY


@pytest.mark.parametrize(("reached", "may_have_been_sent"), [
    (SendStage.CLAIMED, False), (SendStage.RENDERED, True), (SendStage.SUBMITTED, True)])
def test_a_crash_after_rendering_means_look_in_sent_items(
        store: StateStore, clock: FrozenClock, reached: SendStage, may_have_been_sent: bool) -> None:
    claim = store.sends.claim(BOX, "email-1", owner="w1", message_id="<r1@x>")
    if reached is not SendStage.CLAIMED:
        store.sends.mark_rendered(claim)
    if reached is SendStage.SUBMITTED:
        store.sends.mark_submitted(claim)
    clock.advance(DEFAULT_LEASE.total_seconds())
    recovered = store.sends.claim(BOX, "email-1", owner="w2", message_id="<other@x>")
    assert recovered.outcome is ClaimOutcome.RECOVERED and recovered.record.recoveries == 1
    assert recovered.may_have_been_sent is may_have_been_sent
    assert recovered.record.stage is reached


def test_stages_run_to_recorded(store: StateStore, clock: FrozenClock) -> None:
    claim = store.sends.claim(BOX, "email-1", owner="w1", message_id="<r1@x>")
    assert store.sends.mark_rendered(claim).stage is SendStage.RENDERED
    clock.advance(2)
    submitted = store.sends.mark_submitted(claim)
    assert submitted.stage is SendStage.SUBMITTED and submitted.submitted_at == clock.now()
    recorded = store.sends.mark_recorded(claim)
    assert (recorded.stage, recorded.owner, recorded.finished_at) == (SendStage.RECORDED, None, clock.now())
    assert store.sends.claim(BOX, "email-1", owner="w2", message_id="<x@x>").outcome is ClaimOutcome.DONE


def test_a_permanent_failure_is_final(store: StateStore) -> None:
    claim = store.sends.claim(BOX, "email-1", owner="w1", message_id="<r1@x>")
    store.sends.mark_rendered(claim)
    failed = store.sends.mark_failed(claim, "ErrorSendAsDenied: no Send As right")
    assert (failed.stage, failed.last_error) == (SendStage.FAILED, "ErrorSendAsDenied: no Send As right")
    assert store.sends.claim(BOX, "email-1", owner="w2", message_id="<x@x>").outcome is ClaimOutcome.DONE


def test_recording_before_submission_is_refused(store: StateStore) -> None:
    claim = store.sends.claim(BOX, "email-1", owner="w1", message_id="<r1@x>")
    with pytest.raises(ClaimLostError) as caught:
        store.sends.mark_recorded(claim)
    assert caught.value.item_id == "email-1"


def test_a_taken_over_claim_cannot_submit(store: StateStore, clock: FrozenClock) -> None:
    stale = store.sends.claim(BOX, "email-1", owner="w1", message_id="<r1@x>")
    clock.advance(DEFAULT_LEASE.total_seconds())
    store.sends.claim(BOX, "email-1", owner="w2", message_id="<r1@x>")
    with pytest.raises(ClaimLostError):
        store.sends.mark_rendered(stale)


def test_renew_and_abandon(store: StateStore, clock: FrozenClock) -> None:
    claim = store.sends.claim(BOX, "email-1", owner="w1", message_id="<r1@x>")
    clock.advance(100)
    assert store.sends.renew(claim).record.lease_until == clock.now() + DEFAULT_LEASE
    store.sends.claim(BOX, "email-2", owner="w1", message_id="<r2@x>")
    assert store.sends.abandon("w1") == 2
    assert [r.email_id for r in store.sends.pending(BOX)] == ["email-1", "email-2"]


def test_pending_and_unfinished_count(store: StateStore, clock: FrozenClock) -> None:
    a = store.sends.claim(BOX, "email-a", owner="w1", message_id="<a@x>")
    b = store.sends.claim(BOX, "email-b", owner="w1", message_id="<b@x>")
    store.sends.release(b, retry_at=T0 + DEFAULT_LEASE * 2)
    c = store.sends.claim(BOX, "email-c", owner="w1", message_id="<c@x>")
    store.sends.mark_failed(c, "invalid recipients")
    store.sends.claim("other@x.test", "email-d", owner="w1", message_id="<d@x>")
    assert store.sends.pending(BOX) == [] and store.sends.unfinished_count(BOX) == 2
    clock.advance(DEFAULT_LEASE.total_seconds())
    assert [r.email_id for r in store.sends.pending(BOX)] == ["email-a"]
    clock.advance(DEFAULT_LEASE.total_seconds())
    assert [r.email_id for r in store.sends.pending(BOX)] == ["email-a", "email-b"]
    assert a.record.stage is SendStage.CLAIMED


def test_a_message_id_cannot_belong_to_two_emails(store: StateStore) -> None:
    store.sends.claim(BOX, "email-1", owner="w1", message_id="<dup@x>")
    with pytest.raises(StateStoreError, match="already recorded for another email"):
        store.sends.claim(BOX, "email-2", owner="w1", message_id="dup@x")


def test_a_claim_needs_a_message_id(store: StateStore) -> None:
    with pytest.raises(StateStoreError, match="without a Message-ID") as caught:
        store.sends.claim(BOX, "email-1", owner="w1", message_id="  ")
    assert caught.value.mailbox == BOX


def test_lookups_of_unknown_emails_return_none(store: StateStore) -> None:
    assert store.sends.by_email_id("nope") is None and store.sends.by_message_id("<nope@x>") is None


def test_a_failed_email_handed_back_by_the_crm_is_reopened_with_its_message_id(store: StateStore) -> None:
    first = store.sends.claim(BOX, "email-1", owner="w1", message_id="<r1@x>")
    store.sends.mark_failed(first, "ErrorSendAsDenied")
    done = store.sends.claim(BOX, "email-1", owner="w2", message_id="<r2@x>")
    assert done.outcome is ClaimOutcome.DONE and not done.acquired
    reopened = store.sends.reopen(done)
    assert reopened.outcome is ClaimOutcome.RECOVERED and reopened.message_id == "<r1@x>"
    assert reopened.may_have_been_sent and reopened.record.stage is SendStage.RENDERED
    record = reopened.record
    assert (record.owner, record.last_error, record.finished_at) == ("w2", None, None)
    assert store.sends.reopen(done).outcome is ClaimOutcome.BUSY, "a second reopen finds it taken"
    store.sends.mark_submitted(reopened)
    assert store.sends.mark_recorded(reopened).stage is SendStage.RECORDED


def test_a_recorded_email_is_not_reopened(store: StateStore) -> None:
    claim = store.sends.claim(BOX, "email-1", owner="w1", message_id="<r1@x>")
    store.sends.mark_rendered(claim)
    store.sends.mark_submitted(claim)
    store.sends.mark_recorded(claim)
    done = store.sends.claim(BOX, "email-1", owner="w2", message_id="<r2@x>")
    assert store.sends.reopen(done) is done


def test_a_batch_is_claimed_and_advanced_in_one_transaction_each(store: StateStore) -> None:
    held = store.sends.claim(BOX, "email-2", owner="w0", message_id="<held@x>")
    claims = store.sends.claim_many(BOX, [("email-1", "<a@x>"), ("email-2", "<b@x>"), ("email-3", "<c@x>")],
                                    owner="w1")
    assert [c.outcome for c in claims] == [ClaimOutcome.NEW, ClaimOutcome.BUSY, ClaimOutcome.NEW]
    assert claims[1].message_id == held.message_id, "a busy email keeps the Message-ID of its first claim"
    mine = [claims[0], claims[2]]
    assert [r.stage if r else None for r in store.sends.mark_rendered_many(mine)] == [SendStage.RENDERED] * 2
    assert store.sends.mark_rendered_many([claims[1]]) == [None], "only the owner moves a record"
    submitted = store.sends.mark_submitted_many(mine)
    assert [r.stage if r else None for r in submitted] == [SendStage.SUBMITTED] * 2
    recorded = store.sends.mark_recorded_many(mine)
    assert [(r.stage, r.owner) if r else None for r in recorded] == [(SendStage.RECORDED, None)] * 2


def test_an_unsent_claim_given_back_starts_again_without_a_sent_items_search(
        store: StateStore, clock: FrozenClock) -> None:
    fresh = store.sends.claim(BOX, "email-1", owner="w1", message_id="<a@x>")
    store.sends.mark_rendered(fresh)
    crashed = store.sends.claim(BOX, "email-2", owner="w0", message_id="<b@x>")
    store.sends.mark_rendered(crashed)
    clock.advance(DEFAULT_LEASE.total_seconds())
    recovered = store.sends.claim(BOX, "email-2", owner="w1", message_id="<other@x>")
    assert recovered.may_have_been_sent
    store.sends.release_unsent([fresh, recovered], error="the batch ended early")
    again = [store.sends.claim(BOX, e, owner="w2", message_id="<new@x>") for e in ("email-1", "email-2")]
    assert [c.record.stage for c in again] == [SendStage.CLAIMED, SendStage.RENDERED]
    assert [c.may_have_been_sent for c in again] == [False, True], "only a recovered one may have left"


def test_a_batch_of_new_claims_records_what_single_claims_record(store: StateStore) -> None:
    """New emails of a batch are inserted in one statement; their records are those of ``claim``."""
    single = store.sends.claim(BOX, "email-0", owner="w1", message_id="<zero@x>")
    batch = store.sends.claim_many(BOX, [("email-1", "<one@x>"), ("email-2", "two@x")], owner="w1")
    assert [c.outcome for c in batch] == [ClaimOutcome.NEW, ClaimOutcome.NEW]
    assert [c.message_id for c in batch] == ["<one@x>", "<two@x>"]
    for claim in batch:
        assert claim.record == store.sends.by_email_id(claim.record.email_id)
        assert claim.record.id != single.record.id
        assert {**vars(claim.record), "id": 0, "email_id": "", "message_id": ""} == {
            **vars(single.record), "id": 0, "email_id": "", "message_id": ""}


def test_a_batch_with_a_message_id_of_another_email_names_the_clash_and_claims_nothing(
        store: StateStore) -> None:
    store.sends.claim(BOX, "email-1", owner="w1", message_id="<dup@x>")
    with pytest.raises(StateStoreError, match="already recorded for another email"):
        store.sends.claim_many(BOX, [("email-2", "<fresh@x>"), ("email-3", "<dup@x>")], owner="w1")
    assert store.sends.by_email_id("email-2") is None, "the batch's transaction was undone as a whole"


def test_an_email_proposed_twice_in_a_batch_is_claimed_once(store: StateStore) -> None:
    claims = store.sends.claim_many(BOX, [("email-1", "<a@x>"), ("email-1", "<b@x>")], owner="w1")
    assert claims[0].outcome is ClaimOutcome.NEW and claims[1].message_id == "<a@x>"
    assert store.sends.unfinished_count(BOX) == 1

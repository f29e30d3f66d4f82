"""Every fetched item ends with a recorded fate, an acknowledgement and a count (issue #15, case 1),
and an activity an interrupted attempt created reads as recovered, not as a duplicate (case 7)."""

from __future__ import annotations

import pytest

from router.state import LedgerStage, StateStore
from router.state.trail import Decision
from tests.flows.incoming.fates_kit import assert_counts_add_up, drain_counted
from tests.flows.incoming.rig import BERT, CAROL, Rig, binding
from tests.unit.pipeline.incoming.builders import mime

pytestmark = pytest.mark.flow

TRACKED = ["Tracked to Dynamics 365"]
RESEND = ("From: Carol <carol@fabrikam.com>", "To: bert@contoso.com", "Message-ID: <resend@fabrikam.com>")


def test_items_sharing_a_message_key_each_get_a_fate(rig: Rig) -> None:
    rig.publish(binding("users", BERT))
    first = mime(*RESEND, body="The first version.")
    resend = mime(*RESEND, body="A corrected version.")
    more_cc = mime(*RESEND, "Cc: d1@fabrikam.com, d2@fabrikam.com, d3@fabrikam.com",
                   body="The first version.")
    # Two messages without a Message-ID whose derived keys collide: every hashed part is the same.
    twin = mime("From: Carol <carol@fabrikam.com>", "To: bert@contoso.com", "Subject: ping",
                "Date: Tue, 02 Jan 2024 10:00:00 +0000", body="ping", replace=True)
    for raw in (first, resend, more_cc, twin, twin):
        rig.sim.control.inject(BERT, raw)
    metrics = drain_counted(rig, BERT)

    counted = assert_counts_add_up(metrics, BERT)
    assert counted["fetched"] == 5 and counted["delivered"] == 2 and counted["duplicate"] == 3
    items = rig.sim.control.messages(BERT)
    assert all(item.categories == TRACKED for item in items), "every item is acknowledged on the server"
    [activity] = rig.activities("<resend@fabrikam.com>")
    with rig.store() as store:
        entries = [e for e in store.ledger.find_by_message_id("<resend@fabrikam.com>") if e.mailbox == BERT]
        assert len(entries) == 3 and len({e.message_key for e in entries}) == 3
        resent_ids = {i.id for i in items if i.message_id == "<resend@fabrikam.com>"}
        assert {e.item_id for e in entries} == resent_ids
        assert all(e.stage is LedgerStage.ACKNOWLEDGED and e.activity_id == activity for e in entries)
        delivers = [d for d in store.trail.for_message_id("<resend@fabrikam.com>") if d.stage == "deliver"]
        assert [d.result for d in delivers] == ["delivered", "duplicate", "duplicate"]
        resent, copied = delivers[1].text or "", delivers[2].text or ""
        assert f"duplicate of activity {activity}" in resent and "another body" in resent
        assert "Cc +d1@fabrikam.com +d2@fabrikam.com +d3@fabrikam.com" in copied
        assert "another body" not in copied
        derived = {d.message_key for d in store.trail.recent(BERT, limit=500) if "derived" in d.message_key}
        assert len(derived) == 2, "the two colliding messages have two ledger keys"
        for key in derived:
            entry = store.ledger.get(BERT, key)
            assert entry is not None and entry.stage is LedgerStage.ACKNOWLEDGED
            assert any(d.stage == "deliver" for d in store.trail.for_message(BERT, key))


def test_a_cross_mailbox_copy_is_a_duplicate_naming_the_activity(rig: Rig) -> None:
    rig.publish(binding("users", BERT) + binding("users", "alice@contoso.com"))
    for mailbox in ("alice@contoso.com", BERT):
        rig.sim.control.inject(mailbox, from_=CAROL, to=["alice@contoso.com", BERT], subject="both",
                               body="hello", message_id="<both@fabrikam.com>")
    assert_counts_add_up(drain_counted(rig, "alice@contoso.com"), "alice@contoso.com")
    counted = assert_counts_add_up(drain_counted(rig, BERT), BERT)
    assert counted["duplicate"] == 1
    [activity] = rig.activities("<both@fabrikam.com>")
    with rig.store() as store:
        [dup] = [d for d in store.trail.for_message(BERT, "<both@fabrikam.com>") if d.stage == "deliver"]
    assert dup.result == "duplicate" and (dup.text or "").startswith(f"duplicate of activity {activity}")
    assert "the same content" in (dup.text or "")


def test_a_second_copy_in_the_same_batch_is_compared_with_the_first(rig: Rig) -> None:
    # Both copies are offered to the CRM in one call; the first copy's record is still held when the
    # second is concluded, and must be written before the comparison reads the trail.
    rig.publish(binding("users", BERT))
    for body in ("hello", "hello again"):
        rig.sim.control.inject(BERT, from_=CAROL, to=[BERT], subject="twice", body=body,
                               message_id="<twice@fabrikam.com>")
    counted = assert_counts_add_up(drain_counted(rig, BERT), BERT)
    assert counted["delivered"] == 1 and counted["duplicate"] == 1
    [activity] = rig.activities("<twice@fabrikam.com>")
    with rig.store() as store:
        [dup] = [d for d in store.trail.for_message_id("<twice@fabrikam.com>")
                 if d.stage == "deliver" and d.result == "duplicate"]
    assert (dup.text or "").startswith(f"duplicate of activity {activity} (item ")
    assert "came first" in (dup.text or "") and "differs from the first copy" in (dup.text or "")
    assert "not recorded" not in (dup.text or "")


LIST_REPLY = ("From: Carol <carol@fabrikam.com>", "To: bert@contoso.com",
              "Message-ID: <list-reply@fabrikam.com>", "Precedence: list",
              "List-Id: <users.lists.fabrikam.com>", "In-Reply-To: <question@fabrikam.com>")


def screens(store: StateStore, message_id: str) -> list[Decision]:
    return [d for d in store.trail.for_message_id(message_id) if d.stage == "screen"]


def test_a_human_reply_on_a_mailing_list_is_delivered_and_the_trail_says_why(rig: Rig) -> None:
    rig.publish(binding("users", BERT))
    rig.sim.control.inject(BERT, mime(*LIST_REPLY, body="I have the same problem."))
    rig.sim.control.inject(BERT, mime("From: Carol <carol@fabrikam.com>", "To: bert@contoso.com",
                                      "Message-ID: <list-oof@fabrikam.com>", "Precedence: list",
                                      "Auto-Submitted: auto-replied", body="I am away."))
    assert_counts_add_up(drain_counted(rig, BERT), BERT)
    assert rig.activities("<list-reply@fabrikam.com>") and not rig.activities("<list-oof@fabrikam.com>")
    with rig.store() as store:
        [accepted] = screens(store, "<list-reply@fabrikam.com>")
        [skipped] = screens(store, "<list-oof@fabrikam.com>")
    assert accepted.result == "accepted"
    assert 'Precedence: list is only a hint (RFC 3834)' in (accepted.text or "")
    assert 'incoming.precedence = "hint"' in (accepted.text or "")
    assert skipped.reason_code == "auto-submitted"


def test_precedence_screens_list_mail_when_set_to_screen(rig: Rig) -> None:
    rig.publish(binding("users", BERT), settings='[settings.incoming]\nprecedence = "screen"\n')
    rig.sim.control.inject(BERT, mime(*LIST_REPLY, body="I have the same problem."))
    counted = assert_counts_add_up(drain_counted(rig, BERT), BERT)
    assert counted["screened_out"] == 1 and not rig.activities("<list-reply@fabrikam.com>")
    with rig.store() as store:
        [skipped] = screens(store, "<list-reply@fabrikam.com>")
    assert skipped.reason_code == "precedence"
    assert skipped.text == 'Precedence: list (setting incoming.precedence = "screen")'

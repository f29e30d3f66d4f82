"""Mail from Exchange into the CRM through the lane the service's registered factory builds."""

from __future__ import annotations

import pytest

from router.crm.codes import ParticipationType
from router.runtime.resources import Resources
from router.state import LedgerStage
from tests.flows.incoming.rig import ALICE, BERT, CAROL, Rig

pytestmark = pytest.mark.flow


ORDER = "<order42@fabrikam.com>"


def delivered_one(rig: Rig, *, graph: bool = False) -> Resources:
    """Carol's "Order 42" to Alice taken by one run of Alice's lane (over Graph when ``graph``), checked
    as every transport must give it: one activity from Carol, the category on the item, the ledger row
    acknowledged and the decision trail. Returns the run's resources (closed) for their metrics."""
    rig.publish(graph=graph)
    rig.sim.control.inject(ALICE, from_=CAROL, to=[ALICE], subject="Order 42", body="Where is it?",
                           message_id=ORDER)
    resources = rig.resources()
    try:
        result = rig.run_once(resources, ALICE)
    finally:
        resources.close()
    assert result.processed == 1
    [activity] = rig.activities(ORDER)
    view = rig.crm.email(activity)
    assert view.row["subject"] == "Order 42"
    [sender] = view.party_list(ParticipationType.SENDER)
    assert sender.record is not None and sender.record.name == "Carol Clark"
    [item] = rig.sim.control.messages(ALICE)
    assert item.categories == ["Tracked to Dynamics 365"]
    with rig.store() as store:
        [entry] = store.ledger.find_by_message_id(ORDER)
        assert entry.stage is LedgerStage.ACKNOWLEDGED and entry.activity_id == activity
        trail = [(d.stage, d.result) for d in store.trail.for_message_id(ORDER)]
    assert trail == [("screen", "accepted"), ("deliver", "delivered"), ("content", "recorded"),
                     ("acknowledge", "acknowledged")]
    return resources


def test_a_message_is_delivered_recorded_and_acknowledged(rig: Rig) -> None:
    exported = delivered_one(rig).metrics.exposition().decode()
    for series in ('messages_fetched_total{mailbox="alice@contoso.com"} 1.0',
                   'messages_delivered_total{mailbox="alice@contoso.com"} 1.0',
                   'mailbox_backlog{direction="incoming",mailbox="alice@contoso.com"} 0.0',
                   "incoming_latency_seconds_count 1.0"):
        assert series in exported, series


def test_the_same_message_in_two_crm_recipients_mailboxes_is_one_activity(rig: Rig) -> None:
    rig.publish()
    for mailbox in (ALICE, BERT):
        rig.sim.control.inject(mailbox, from_=CAROL, to=[ALICE, BERT], subject="For both of you",
                               body="hello", message_id="<both@fabrikam.com>")
    assert rig.drain(ALICE).processed == 1
    assert rig.drain(BERT).processed == 1
    [activity] = rig.activities("<both@fabrikam.com>")
    with rig.store() as store:
        results = {(d.mailbox, d.result) for d in store.trail.for_message_id("<both@fabrikam.com>")
                   if d.stage == "deliver"}
        assert results == {(ALICE, "delivered"), (BERT, "duplicate")}
        assert {e.activity_id for e in store.ledger.find_by_message_id("<both@fabrikam.com>")} == {activity}
    for mailbox in (ALICE, BERT):
        assert rig.sim.control.messages(mailbox)[0].categories == ["Tracked to Dynamics 365"]

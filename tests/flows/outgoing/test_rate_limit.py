"""The per-mailbox send rate: a mailbox over its limit waits without holding a worker or other mailboxes."""

from __future__ import annotations

import pytest

from router.crm.codes import EmailStatus
from tests.flows.outgoing.world import ALICE, BERT, CAROL, OutgoingWorld
from tests.support.crm import Organisation

pytestmark = pytest.mark.flow


def test_a_mailbox_at_its_limit_returns_with_a_wait_and_others_still_send(world: OutgoingWorld,
                                                                          crm_org: Organisation) -> None:
    world.grant("full_access")
    world.grant("send_as")
    world.grant("full_access", BERT)
    world.grant("send_as", BERT)
    world.publish(settings={"send_rate_per_minute": 2, "request_batch_size": 5})
    ids = [world.pending(crm_org.alice, CAROL, subject=f"n{n}") for n in range(5)]
    bert_id = world.pending(crm_org.bert, CAROL, subject="from bert")

    first = world.run(ALICE)
    assert (first.processed, first.waiting, first.resume_in) == (2, 3, 60.0)
    assert [world.status(i) for i in ids].count(EmailStatus.SENT) == 2
    assert world.run(ALICE).resume_in == 60.0, "still waiting: nothing more is claimed or sent"

    world.run(BERT)
    assert world.status(bert_id) is EmailStatus.SENT, "another mailbox is not held up by Alice's limit"

    world.clock.advance(59.0)
    assert world.run(ALICE).resume_in == 1.0
    world.clock.advance(1.0)
    assert world.run(ALICE).processed == 2
    world.clock.advance(60.0)
    world.run(ALICE)
    assert [world.status(i) for i in ids] == [EmailStatus.SENT] * 5
    sent_ids = [world.row(i)["messageid"] for i in ids]
    from_alice = [m["Message-ID"] for m in world.journal() if m["From"].startswith("Alice")]
    assert sorted(from_alice) == sorted(sent_ids)


def test_the_rate_follows_a_new_publish(world: OutgoingWorld, crm_org: Organisation) -> None:
    world.grant("full_access")
    world.grant("send_as")
    world.publish(settings={"send_rate_per_minute": 1})
    ids = [world.pending(crm_org.alice, CAROL, subject=f"n{n}") for n in range(3)]
    assert world.run(ALICE).processed == 1
    world.publish(settings={"send_rate_per_minute": 10})
    assert world.run(ALICE).processed == 2
    assert [world.status(i) for i in ids] == [EmailStatus.SENT] * 3


def test_a_mailbox_that_may_send_more_claims_several_crm_batches_for_one_run(world: OutgoingWorld,
                                                                            crm_org: Organisation) -> None:
    """RequestBatchSize bounds each BackgroundSendEmail request, not the run: with room in its rate the
    mailbox claims request after request and sends them all as one batch; within its rate, no more."""
    world.grant("full_access")
    world.grant("send_as")
    world.publish(settings={"send_rate_per_minute": 9, "request_batch_size": 2})
    ids = [world.pending(crm_org.alice, CAROL, subject=f"n{n}") for n in range(12)]
    first = world.run(ALICE)
    assert first.processed == 9
    assert [world.status(i) for i in ids].count(EmailStatus.SENT) == 9
    statuses = [world.status(i) for i in ids]
    assert statuses.count(EmailStatus.PENDING_SEND) == 3, "nothing claimed past the rate"
    assert len(world.journal()) == 9

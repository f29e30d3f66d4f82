"""Failures: what the CRM shows on the email, which alert is raised, what the lane does next.

Permanent failures fail the email at once with the reason on it (and stop the mailbox when every
email would fail the same way); transient ones are counted and retried after Exchange's back-off and
PendingStatusDelay, until MaximumDeliveryAttempts.
"""

from __future__ import annotations

import pytest

from router.crm.codes import EmailStatus
from router.errors import AccessDeniedError, MailboxNotFoundError, SendAsDeniedError, TransientTransportError
from router.pipeline.outgoing.failures import (
    ALERT_NO_MAILBOX,
    ALERT_REJECTED,
    ALERT_SEND_AS,
    ALERT_UNUSABLE,
    RETRY_SECONDS,
)
from router.state import SendStage
from tests.flows.outgoing.world import ALICE, BERT, CAROL, OutgoingWorld
from tests.support.crm import Organisation

pytestmark = pytest.mark.flow

PENDING_STATUS_DELAY = 301.0
"""A little past PendingStatusDelay: an email tried at T is offered again after T + 300 s."""


def open_alerts(world: OutgoingWorld, mailbox: str = ALICE) -> dict[str, str]:
    with world.store() as store:
        return {alert.kind: alert.text for alert in store.alerts.open_alerts(mailbox)}


def record_stage(world: OutgoingWorld, email_id: str) -> SendStage | None:
    with world.store() as store:
        record = store.sends.by_email_id(email_id)
        return record.stage if record else None


def test_send_as_denied_fails_the_email_alerts_cleans_the_draft_and_stops_the_mailbox(
        world: OutgoingWorld, crm_org: Organisation) -> None:
    world.grant("full_access")
    world.publish(access="send_as")
    first = world.pending(crm_org.alice, CAROL, subject="first")
    second = world.pending(crm_org.alice, CAROL, subject="second")
    with pytest.raises(SendAsDeniedError):
        world.run(ALICE)
    assert world.status(first) is EmailStatus.FAILED
    [note] = world.notes(first)
    assert "ErrorSendAsDenied" in note and "Send As or Send On Behalf" in note
    assert world.status(second) is EmailStatus.PENDING_SEND, "the rest goes back, uncounted as failures"
    assert any("cannot send until an admin acts" in note for note in world.notes(second))
    assert "ErrorSendAsDenied" in open_alerts(world)[ALERT_SEND_AS]
    assert world.inbox(ALICE, "drafts") == [], "the draft Exchange left behind is removed"
    assert world.journal() == [] and record_stage(world, first) is SendStage.FAILED

    world.grant("send_as")
    world.publish(access="send_as")
    world.clock.advance(PENDING_STATUS_DELAY)
    world.run(ALICE)
    assert world.status(second) is EmailStatus.SENT and ALERT_SEND_AS not in open_alerts(world)
    world.crm.send_email(None, first)  # The user resubmits the failed email.
    world.run(ALICE)
    assert world.status(first) is EmailStatus.SENT
    with world.store() as store:
        record = store.sends.by_email_id(first)
        assert record is not None and record.message_id == world.row(first)["messageid"]
    assert sorted(m["Subject"].split(" CRM:")[0] for m in world.journal()) == ["first", "second"]


def test_server_busy_is_retried_after_the_back_off_and_counted(world: OutgoingWorld,
                                                               crm_org: Organisation) -> None:
    world.grant("full_access")
    world.grant("send_as")
    world.publish()
    email_id = world.pending(crm_org.alice, CAROL)
    world.sim.control.fault("server_busy", "CreateItem", back_off_ms=45_000)
    with pytest.raises(TransientTransportError) as busy:
        world.run(ALICE)
    assert busy.value.back_off == 45.0, "raised after recording, so the scheduler holds the server back"
    assert world.status(email_id) is EmailStatus.PENDING_SEND and world.row(email_id)["deliveryattempts"] == 1
    assert world.journal() == []
    assert world.run(ALICE).resume_in == 45.0, "the mailbox holds off; nothing is claimed meanwhile"
    world.clock.advance(PENDING_STATUS_DELAY)
    world.run(ALICE)
    assert world.status(email_id) is EmailStatus.SENT and world.row(email_id)["deliveryattempts"] == 1
    assert len(world.journal(world.row(email_id)["messageid"])) == 1


def test_a_transient_failure_ends_the_run_and_the_rest_of_the_batch_waits(world: OutgoingWorld,
                                                                          crm_org: Organisation) -> None:
    world.grant("full_access")
    world.grant("send_as")
    world.publish()
    ids = [world.pending(crm_org.alice, CAROL, subject=f"n{n}") for n in range(3)]
    world.sim.control.fault("malformed", "CreateItem")
    result = world.run(ALICE)
    assert (result.processed, result.waiting, result.resume_in) == (1, 2, RETRY_SECONDS)
    pending, sending = EmailStatus.PENDING_SEND, EmailStatus.SENDING
    assert [world.status(i) for i in ids] == [pending, sending, sending]
    world.clock.advance(60)
    world.run(ALICE)
    assert [world.status(i) for i in ids] == [EmailStatus.PENDING_SEND, EmailStatus.SENT, EmailStatus.SENT]
    world.clock.advance(PENDING_STATUS_DELAY)
    world.run(ALICE)
    assert [world.status(i) for i in ids] == [EmailStatus.SENT] * 3
    assert [world.row(i)["deliveryattempts"] for i in ids] == [1, 0, 0]


def test_the_email_fails_after_maximum_delivery_attempts(world: OutgoingWorld, crm_org: Organisation) -> None:
    world.grant("full_access")
    world.grant("send_as")
    world.publish(settings={"maximum_delivery_attempts": 3})
    email_id = world.pending(crm_org.alice, CAROL)
    world.sim.control.fault("http_500", "CreateItem", count=3)
    for attempt in (1, 2, 3):
        with pytest.raises(TransientTransportError):
            world.run(ALICE)
        assert world.row(email_id)["deliveryattempts"] == attempt
        world.clock.advance(PENDING_STATUS_DELAY)
    assert world.status(email_id) is EmailStatus.FAILED
    assert "The message delivery failed" in world.notes(email_id)[-1]
    assert "Server Error" in world.notes(email_id)[-1] or "500" in world.notes(email_id)[-1]
    assert world.journal() == [] and record_stage(world, email_id) is SendStage.FAILED
    world.run(ALICE)
    assert world.status(email_id) is EmailStatus.FAILED, "a failed email waits for the user to resubmit it"


def test_an_email_that_cannot_be_rendered_fails_alone(world: OutgoingWorld, crm_org: Organisation) -> None:
    world.grant("full_access")
    world.grant("send_as")
    world.publish()
    bad = world.pending(crm_org.alice, "jörg@fabrikam.com", subject="bad")
    good = world.pending(crm_org.alice, BERT, subject="good")
    assert world.run(ALICE).processed == 2
    assert world.status(bad) is EmailStatus.FAILED and world.status(good) is EmailStatus.SENT
    assert any("SMTPUTF8" in note for note in world.notes(bad))
    assert ALERT_REJECTED in open_alerts(world)


def test_a_mailbox_exchange_does_not_know_fails_the_email_and_stops(world: OutgoingWorld,
                                                                    crm_org: Organisation) -> None:
    support = "support@contoso.com"
    world.publish(users=(), queues=(support,))
    email_id = world.pending(crm_org.support, CAROL)
    with pytest.raises(MailboxNotFoundError):
        world.run(support)
    assert world.status(email_id) is EmailStatus.FAILED
    assert ALERT_NO_MAILBOX in open_alerts(world, support)


def test_without_rights_on_the_mailbox_the_email_waits_and_the_mailbox_stops(
        world: OutgoingWorld, crm_org: Organisation) -> None:
    world.grant("send_as")
    world.publish()
    email_id = world.pending(crm_org.alice, CAROL)
    with pytest.raises(AccessDeniedError):
        world.run(ALICE)
    assert world.status(email_id) is EmailStatus.PENDING_SEND, "not the email's fault: it is not failed"
    assert any("FullAccess" in note for note in world.notes(email_id))
    assert ALERT_UNUSABLE in open_alerts(world)


def test_a_failed_submission_that_had_gone_through_is_found_and_not_sent_again(
        world: OutgoingWorld, crm_org: Organisation) -> None:
    """Exchange can fail a request it has already carried out (a timeout on the answer): the next
    attempt looks for our Message-ID in Sent Items and records the email instead of sending it twice."""
    world.grant("full_access")
    world.grant("send_as")
    world.publish()
    email_id = world.pending(crm_org.alice, CAROL)
    world.sim.control.fault("http_500", "CreateItem")
    with pytest.raises(TransientTransportError):
        world.run(ALICE)
    with world.store() as store:
        record = store.sends.by_email_id(email_id)
        assert record is not None and record.stage is SendStage.RENDERED
    as_if_sent = (f"From: alice@contoso.com\r\nTo: {CAROL}\r\nSubject: Quote 42\r\n"
                  f"Message-ID: {record.message_id}\r\n\r\nsent before the answer was lost\r\n").encode()
    world.sim.control.inject(ALICE, as_if_sent, folder="sentitems")
    world.clock.advance(PENDING_STATUS_DELAY)
    world.run(ALICE)
    assert world.status(email_id) is EmailStatus.SENT
    assert world.row(email_id)["messageid"] == record.message_id
    assert world.journal() == [], "nothing was submitted a second time"
    assert record_stage(world, email_id) is SendStage.RECORDED


def test_emails_sent_in_one_request_each_get_exchange_s_answer(world: OutgoingWorld,
                                                               crm_org: Organisation) -> None:
    """One CreateItem carries the batch; Exchange refuses the one too large and sends the others."""
    world.grant("full_access")
    world.grant("send_as")
    world.publish()
    world.sim.config.max_message_bytes = 60_000
    ids = [world.pending(crm_org.alice, CAROL, subject=f"n{n}",
                         body="<p>" + ("quote " * (20_000 if n == 1 else 10)) + "</p>") for n in range(3)]
    assert world.run(ALICE).processed == 3
    assert [world.status(i) for i in ids] == [EmailStatus.SENT, EmailStatus.FAILED, EmailStatus.SENT]
    assert any("ErrorMessageSizeExceeded" in note for note in world.notes(ids[1]))
    assert sorted(m["Subject"].split(" CRM:")[0] for m in world.journal()) == ["n0", "n2"]
    assert [record_stage(world, i) for i in ids] == [SendStage.RECORDED, SendStage.FAILED, SendStage.RECORDED]

"""Outgoing mail over Microsoft Graph, through the real lane, against the simulator's Graph face.

As over EWS, Exchange decides: the router sends the rendered MIME from the profile's service mailbox
with From = the user, and Exchange sends as the user with Send As, on behalf with Send On Behalf, and
refuses otherwise (the email Failed, an alert). Without a service mailbox the router sends from the
user's own mailbox, which the app's application permission sends as the user.
"""

from __future__ import annotations

import pytest

from router.config import Direction
from router.crm.codes import EmailStatus
from router.errors import SendAsDeniedError, TransientTransportError
from router.pipeline.outgoing.failures import ALERT_SEND_AS
from router.runtime.graph_connections import graph_spec
from router.state import SendStage
from tests.flows.outgoing.test_content import sent_with_bcc
from tests.flows.outgoing.test_failures import PENDING_STATUS_DELAY, open_alerts, record_stage
from tests.flows.outgoing.test_send_as import ALICE_FROM, SVC_SENDER, sent_to_carol_and_bert
from tests.flows.outgoing.world import ALICE, CAROL, SVC, OutgoingWorld
from tests.support.crm import Organisation

pytestmark = pytest.mark.flow


@pytest.mark.parametrize(("grant", "access", "sender"), [
    ("send_as", "send_as", None), ("send_on_behalf", "delegate", SVC_SENDER)])
def test_send_as_and_on_behalf_over_graph_from_the_service_mailbox(
        world: OutgoingWorld, crm_org: Organisation, grant: str, access: str, sender: str | None) -> None:
    world.grant(grant)
    world.publish(access=access, graph=True, service_mailbox=SVC)
    message_id, received = sent_to_carol_and_bert(world, crm_org)
    for copy in received:
        assert (copy["From"], copy["Sender"]) == (ALICE_FROM, sender)
    [saved] = world.inbox(SVC, "sentitems")
    assert saved["Message-ID"] == message_id, "Graph keeps the copy in the calling mailbox's Sent Items"
    assert world.inbox(ALICE, "sentitems") == [], "Alice's mailbox does not keep copies of mail sent as her"


@pytest.mark.parametrize(("grant", "access", "setting"), [
    ("send_as", "send_as", "message_copy_for_sent_as"),
    ("send_on_behalf", "delegate", "message_copy_for_send_on_behalf")])
def test_a_user_mailbox_that_keeps_copies_gets_one_beside_the_service_mailboxs(
        world: OutgoingWorld, crm_org: Organisation, grant: str, access: str, setting: str) -> None:
    # Exchange Online's MessageCopyForSentAsEnabled / MessageCopyForSendOnBehalfEnabled on Alice's mailbox.
    world.grant(grant)
    setattr(world.sim.store.require_user(ALICE), setting, True)
    world.publish(access=access, graph=True, service_mailbox=SVC)
    message_id, _ = sent_to_carol_and_bert(world, crm_org)
    assert [m["Message-ID"] for m in world.inbox(SVC, "sentitems")] == [message_id]
    assert [m["Message-ID"] for m in world.inbox(ALICE, "sentitems")] == [message_id]
    # The lane's check before any resend looks in the calling (service) mailbox, where the copy always is.
    assert world.config is not None and world.resources is not None
    spec = graph_spec(world.config, world.published(ALICE), Direction.OUTGOING)
    session = world.resources.graphs.session(spec)
    assert session.address == SVC and session.find_sent(message_id) is not None


def test_from_the_users_own_mailbox_graph_sends_as_the_user(world: OutgoingWorld,
                                                            crm_org: Organisation) -> None:
    world.publish(access="impersonation", graph=True)
    message_id, received = sent_to_carol_and_bert(world, crm_org)
    for copy in received:
        assert (copy["From"], copy["Sender"]) == (ALICE_FROM, None)
    [saved] = world.inbox(ALICE, "sentitems")
    assert saved["Message-ID"] == message_id


def test_denied_over_graph_fails_the_email_and_alerts(world: OutgoingWorld, crm_org: Organisation) -> None:
    world.publish(access="send_as", graph=True, service_mailbox=SVC)
    first = world.pending(crm_org.alice, CAROL, subject="first")
    with pytest.raises(SendAsDeniedError):
        world.run(ALICE)
    assert world.status(first) is EmailStatus.FAILED
    [note] = world.notes(first)
    assert "ErrorSendAsDenied" in note
    assert "ErrorSendAsDenied" in open_alerts(world)[ALERT_SEND_AS]
    assert world.journal() == [] and record_stage(world, first) is SendStage.FAILED


def test_bcc_over_graph_reaches_them_and_nobody_sees_them(world: OutgoingWorld,
                                                         crm_org: Organisation) -> None:
    world.publish(access="impersonation", graph=True)
    sent_with_bcc(world, crm_org)


def _batches(world: OutgoingWorld) -> list[int]:
    """The steps of each ``$batch`` the simulator's Graph face served, in order."""
    return [int(r.code) for r in world.sim.control.graph_requests() if r.operation == "graph.batch"]


def test_one_batch_carries_a_mailboxs_emails_and_a_refused_one_costs_the_others_nothing(
        world: OutgoingWorld, crm_org: Organisation) -> None:
    """Five emails of Alice's go in one ``$batch`` of sendMail steps (chained four wide by dependsOn);
    Exchange refuses the second, too large: it is Failed, and the others, the one chained after it
    (answered 424 Failed Dependency, then sent in the next round) included, are Sent once each."""
    world.grant("send_as")
    world.publish(access="send_as", graph=True, service_mailbox=SVC)
    world.sim.config.max_message_bytes = 60_000
    ids = [world.pending(crm_org.alice, CAROL, subject=f"n{n}",
                         body="<p>" + ("quote " * (20_000 if n == 1 else 10)) + "</p>") for n in range(6)]
    assert world.run(ALICE).processed == 6
    assert [world.status(i) for i in ids] == [EmailStatus.SENT, EmailStatus.FAILED] + [EmailStatus.SENT] * 4
    assert any("ErrorMessageSizeExceeded" in note for note in world.notes(ids[1]))
    subjects = sorted(m["Subject"].split(" CRM:")[0] for m in world.journal())
    assert subjects == ["n0", "n2", "n3", "n4", "n5"], "each sent once, the refused one never"
    recorded, failed = SendStage.RECORDED, SendStage.FAILED
    assert [record_stage(world, i) for i in ids] == [recorded, failed] + [recorded] * 4
    assert _batches(world) == [6, 1], "one batch for all six; the step after the refused one sent again"
    assert len(world.inbox(SVC, "sentitems")) == 5


def test_a_throttled_send_step_is_sent_again_after_its_retry_after(world: OutgoingWorld,
                                                                  crm_org: Organisation) -> None:
    """Graph answers one step of the batch 429: that email alone goes again, once."""
    world.publish(access="impersonation", graph=True)
    ids = [world.pending(crm_org.alice, CAROL, subject=f"t{n}") for n in range(3)]
    world.sim.control.fault("server_busy", "graph.sendMail", count=1, back_off_ms=1000)
    assert world.run(ALICE).processed == 3
    assert [world.status(i) for i in ids] == [EmailStatus.SENT] * 3
    assert sorted(m["Subject"].split(" CRM:")[0] for m in world.journal()) == ["t0", "t1", "t2"]
    assert _batches(world) == [3, 1]


def test_a_batch_lost_as_a_whole_is_looked_for_in_sent_items_before_any_resend(
        world: OutgoingWorld, crm_org: Organisation) -> None:
    """The connection drops during a batch of three: whether any left is unknown. The next attempt
    looks for each Message-ID in Sent Items; the one that had left is recorded, not sent again."""
    world.publish(access="impersonation", graph=True)
    ids = [world.pending(crm_org.alice, CAROL, subject=f"w{n}") for n in range(3)]
    world.sim.control.fault("drop", "graph.sendMail")
    with pytest.raises(TransientTransportError):
        world.run(ALICE)
    assert world.journal() == []
    with world.store() as store:
        record = store.sends.by_email_id(ids[1])
        assert record is not None and record.stage is SendStage.RENDERED
    as_if_sent = (f"From: alice@contoso.com\r\nTo: {CAROL}\r\nSubject: w1\r\n"
                  f"Message-ID: {record.message_id}\r\n\r\nleft before the answer was lost\r\n").encode()
    world.sim.control.inject(ALICE, as_if_sent, folder="sentitems")
    world.clock.advance(PENDING_STATUS_DELAY)
    for _ in range(2):
        world.run(ALICE)
        world.clock.advance(PENDING_STATUS_DELAY)
    assert [world.status(i) for i in ids] == [EmailStatus.SENT] * 3
    assert world.row(ids[1])["messageid"] == record.message_id
    assert sorted(m["Subject"].split(" CRM:")[0] for m in world.journal()) == ["w0", "w2"], \
        "the one found in Sent Items was not sent again"

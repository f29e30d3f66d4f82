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
from router.errors import SendAsDeniedError
from router.pipeline.outgoing.failures import ALERT_SEND_AS
from router.runtime.graph_connections import graph_spec
from router.state import SendStage
from tests.flows.outgoing.test_content import sent_with_bcc
from tests.flows.outgoing.test_failures import open_alerts, record_stage
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

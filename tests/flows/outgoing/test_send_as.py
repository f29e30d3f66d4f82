"""Send As, Send On Behalf, impersonation and the user's own credentials, through the real lane.

What decides the result is Exchange, from the rights the account holds: the assertions are on the
From and Sender headers the recipients received (Carol outside the organisation, in the journal; Bert
inside, in his Inbox) and on where the sent copy was saved.
"""

from __future__ import annotations

from email.message import EmailMessage

import pytest

from router.crm.codes import EmailStatus
from router.pipeline.headers import LOOP_HEADER
from tests.flows.outgoing.world import ALICE, BERT, CAROL, SALES, SVC, OutgoingWorld
from tests.support.crm import Organisation

pytestmark = pytest.mark.flow

ALICE_FROM = "Alice Archer <alice@contoso.com>"
SVC_SENDER = "CRM Service <svc-crm@contoso.com>"


def sent_to_carol_and_bert(world: OutgoingWorld, crm_org: Organisation) -> tuple[str, list[EmailMessage]]:
    """Send one email from Alice to Carol and Bert; return its Message-ID and both received copies."""
    email_id = world.pending(crm_org.alice, CAROL, BERT, subject="Quote 42")
    assert world.run(ALICE).processed == 1
    row = world.row(email_id)
    assert world.status(email_id) is EmailStatus.SENT and row["senton"] is not None
    [remote] = world.journal(row["messageid"])
    [internal] = world.inbox(BERT)
    assert remote["Subject"] == internal["Subject"] == row["subject"] and "CRM:" in row["subject"]
    return row["messageid"], [remote, internal]


def test_send_as_reaches_recipients_from_the_user_alone(world: OutgoingWorld, crm_org: Organisation) -> None:
    world.grant("full_access")
    world.grant("send_as")
    world.publish(access="send_as")
    message_id, received = sent_to_carol_and_bert(world, crm_org)
    for copy in received:
        assert (copy["From"], copy["Sender"]) == (ALICE_FROM, None)
        assert copy[LOOP_HEADER] == "contoso"
    [saved] = world.inbox(ALICE, "sentitems")
    assert saved["Message-ID"] == message_id, "the copy is in the user's Sent Items"
    assert world.inbox(SVC, "sentitems") == []


def test_send_on_behalf_shows_the_service_account_as_sender(world: OutgoingWorld,
                                                            crm_org: Organisation) -> None:
    world.grant("full_access")
    world.grant("send_on_behalf")
    world.publish(access="delegate")
    message_id, received = sent_to_carol_and_bert(world, crm_org)
    for copy in received:
        assert (copy["From"], copy["Sender"]) == (ALICE_FROM, SVC_SENDER)
    [saved] = world.inbox(ALICE, "sentitems")
    assert saved["Message-ID"] == message_id and saved["Sender"] == SVC_SENDER


def test_a_send_as_profile_on_an_account_with_only_send_on_behalf_sends_on_behalf(
        world: OutgoingWorld, crm_org: Organisation) -> None:
    """The client cannot choose: Exchange stamps what the account's rights give, whatever the profile says."""
    world.grant("full_access")
    world.grant("send_on_behalf")
    world.publish(access="send_as")
    _, received = sent_to_carol_and_bert(world, crm_org)
    for copy in received:
        assert (copy["From"], copy["Sender"]) == (ALICE_FROM, SVC_SENDER)


def test_impersonation_sends_as_the_user_from_the_users_own_mailbox(world: OutgoingWorld,
                                                                    crm_org: Organisation) -> None:
    world.publish(access="impersonation")
    message_id, received = sent_to_carol_and_bert(world, crm_org)
    for copy in received:
        assert (copy["From"], copy["Sender"]) == (ALICE_FROM, None)
    assert [m["Message-ID"] for m in world.inbox(ALICE, "sentitems")] == [message_id]
    impersonated = [r for r in world.sim.control.requests() if r.operation == "CreateItem"]
    assert [(r.principal, r.acting, r.impersonated) for r in impersonated] == [(SVC, ALICE, True)]


def test_user_specified_sends_with_the_users_own_credentials(world: OutgoingWorld,
                                                             crm_org: Organisation) -> None:
    world.publish(credentials="user_specified", users=(ALICE,), queues=())
    message_id, received = sent_to_carol_and_bert(world, crm_org)
    for copy in received:
        assert (copy["From"], copy["Sender"]) == (ALICE_FROM, None)
    [create] = [r for r in world.sim.control.requests() if r.operation == "CreateItem"]
    assert (create.principal, create.acting) == (ALICE, ALICE)
    assert [m["Message-ID"] for m in world.inbox(ALICE, "sentitems")] == [message_id]


@pytest.mark.parametrize(("right", "sender"), [("send_as", None), ("send_on_behalf", SVC_SENDER)])
def test_a_queue_sends_from_its_shared_mailbox(world: OutgoingWorld, crm_org: Organisation, right: str,
                                               sender: str | None) -> None:
    world.grant("full_access", SALES)
    world.grant(right, SALES)
    world.publish(access="send_as")
    email_id = world.pending(crm_org.sales, CAROL, subject="Offer")
    world.run(SALES)
    [remote] = world.journal(world.row(email_id)["messageid"])
    assert (remote["From"], remote["Sender"]) == ("Sales <sales@contoso.com>", sender)
    assert len(world.inbox(SALES, "sentitems")) == 1

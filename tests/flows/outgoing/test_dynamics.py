"""The outgoing lane against Dynamics: the Web API adapter over HTTP to the facade, same results."""

from __future__ import annotations

import pytest

from router.crm.codes import EmailStatus
from router.crm.embedded import EmbeddedGateway
from router.crm.facade import CrmFacade
from router.errors import CrmTransientError, SendAsDeniedError
from router.pipeline.outgoing.thread_index import new_thread_index, parse_thread_index
from tests.flows.outgoing.world import ALICE, BERT, CAROL, SVC, OutgoingWorld
from tests.support.crm import CLOCK_START, SERVICE_ACCOUNT, Organisation, incoming_email

pytestmark = pytest.mark.flow


def test_send_on_behalf_through_dynamics(dynamics_world: OutgoingWorld, crm_org: Organisation) -> None:
    world = dynamics_world
    world.grant("full_access")
    world.grant("send_on_behalf")
    world.publish(access="delegate")
    email_id = world.pending(crm_org.alice, CAROL, BERT, subject="Quote 42", bcc=(SVC,))
    assert world.run(ALICE).processed == 1
    row = world.row(email_id)
    assert world.status(email_id) is EmailStatus.SENT and row["senton"] is not None
    [remote] = world.journal(row["messageid"])
    assert remote["From"] == "Alice Archer <alice@contoso.com>"
    assert remote["Sender"] == "CRM Service <svc-crm@contoso.com>"
    assert [m["Message-ID"] for m in world.inbox(SVC)] == [row["messageid"]], "the Bcc recipient got it"


def test_failures_are_recorded_through_dynamics(dynamics_world: OutgoingWorld, crm_org: Organisation) -> None:
    world = dynamics_world
    world.grant("full_access")
    world.publish(access="send_as")
    failed = world.pending(crm_org.alice, CAROL, subject="first")
    waiting = world.pending(crm_org.alice, CAROL, subject="second")
    with pytest.raises(SendAsDeniedError):
        world.run(ALICE)
    assert world.status(failed) is EmailStatus.FAILED and world.row(failed)["deliveryattempts"] == 1
    assert any("ErrorSendAsDenied" in note for note in world.notes(failed))
    assert world.status(waiting) is EmailStatus.PENDING_SEND
    assert world.inbox(ALICE, "drafts") == []


def test_a_reply_threads_through_dynamics(dynamics_world: OutgoingWorld, crm_org: Organisation) -> None:
    world = dynamics_world
    world.publish(access="impersonation")
    parent_index = new_thread_index(CLOCK_START, None)
    received = EmbeddedGateway(world.crm, SERVICE_ACCOUNT).deliver_incoming(incoming_email(
        message_id="<q2@fabrikam.com>", subject="Hello", conversation_index=parent_index))
    email_id = world.pending(crm_org.alice, CAROL, subject="RE: Hello", parent_email_id=received.email_id)
    world.run(ALICE)
    [reply] = world.journal(world.row(email_id)["messageid"])
    assert reply["In-Reply-To"] == "<q2@fabrikam.com>"
    assert parse_thread_index(reply["Thread-Index"]).guid == parse_thread_index(parent_index).guid


def test_a_crm_outage_after_submission_loses_nothing_and_sends_nothing_twice(
        dynamics_world: OutgoingWorld, crm_org: Organisation, crm_facade: CrmFacade) -> None:
    world = dynamics_world
    world.grant("full_access")
    world.grant("send_as")
    world.publish()
    email_id = world.pending(crm_org.alice, CAROL)
    crm_facade.faults.add(503, times=20, match="PATCH")
    with pytest.raises(CrmTransientError):
        world.run(ALICE)
    assert world.status(email_id) is EmailStatus.SENDING and len(world.journal()) == 1
    crm_facade.faults.clear()
    world.run(ALICE)
    row = world.row(email_id)
    assert world.status(email_id) is EmailStatus.SENT and len(world.journal(row["messageid"])) == 1
    assert len(world.journal()) == 1

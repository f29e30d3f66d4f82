"""Which CRM mailbox a lane sends for: the one the service's mailbox directory matched to the CRM's Load
Data. A mailbox the CRM does not route through the router gets no lane and the reason says why; a lane
built without the CRM's match (its Load Data did not answer) sends nothing and says so."""

from __future__ import annotations

import pytest

from router.crm.codes import Approval, EmailStatus, OutgoingDeliveryMethod
from router.crm.embedded import MailboxSettings
from router.errors import ConfigError
from router.pipeline.outgoing.failures import ALERT_NOT_IN_CRM
from router.runtime.outcome import IDLE
from router.service.roster import NOT_IN_CRM
from tests.flows.outgoing.world import ALICE, CAROL, PASSWORD, SVC, OutgoingWorld
from tests.support.crm import Organisation

pytestmark = pytest.mark.flow

DANA = "dana@contoso.com"


def alerts(world: OutgoingWorld, mailbox: str) -> list[str]:
    with world.store() as store:
        return [alert.kind for alert in store.alerts.open_alerts(mailbox)]


def test_a_mailbox_the_crm_adds_later_is_served_once_load_data_lists_it(world: OutgoingWorld) -> None:
    world.sim.control.seed({"users": [{"address": DANA, "name": "Dana Dale", "password": PASSWORD}]})
    world.grant("full_access", DANA)
    world.grant("send_as", DANA)
    world.publish(users=(ALICE, DANA))
    with pytest.raises(ConfigError) as refused:
        world.lane(DANA)
    assert NOT_IN_CRM in refused.value.message

    approved = MailboxSettings(approval=Approval.APPROVED)
    dana = world.crm.add_user("Dana Dale", DANA, "CONTOSO\\dana", settings=approved)
    email_id = world.pending(dana, CAROL)
    assert world.run(DANA).processed == 1, "the directory resolved again matches her mailbox"
    assert world.status(email_id) is EmailStatus.SENT
    assert world.journal(world.row(email_id)["messageid"])[0]["From"] == "Dana Dale <dana@contoso.com>"


def test_a_mailbox_whose_outgoing_method_is_not_the_router_gets_no_lane(world: OutgoingWorld) -> None:
    world.grant("full_access")
    world.grant("send_as")
    world.crm.set_mailbox(ALICE, outgoingemaildeliverymethod=int(OutgoingDeliveryMethod.NONE))
    world.publish()
    with pytest.raises(ConfigError, match="outgoing delivery method in the CRM is None"):
        world.lane(ALICE)
    assert world.inbox(SVC, "sentitems") == [] and world.journal() == []


def test_a_lane_without_the_crms_match_sends_nothing_until_it_has_it(world: OutgoingWorld,
                                                                     crm_org: Organisation) -> None:
    world.grant("full_access")
    world.grant("send_as")
    world.publish()
    email_id = world.pending(crm_org.alice, CAROL)
    unmatched = world.build(world.published(ALICE))
    assert unmatched(world.context(ALICE)) == IDLE
    assert alerts(world, ALICE) == [ALERT_NOT_IN_CRM]
    assert world.status(email_id) is EmailStatus.PENDING_SEND and world.journal() == []

    assert world.run(ALICE).processed == 1
    assert world.status(email_id) is EmailStatus.SENT
    assert alerts(world, ALICE) == [], "sending again resolves the alert"

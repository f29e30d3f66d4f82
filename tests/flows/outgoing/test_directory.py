"""Which CRM mailbox a lane serves: Load Data, cached per published version, re-read after
ConfigUpdatePeriod; a mailbox the CRM does not route through the router sends nothing and says so."""

from __future__ import annotations

import pytest

from router.crm.codes import Approval, EmailStatus, OutgoingDeliveryMethod
from router.crm.embedded import MailboxSettings
from router.pipeline.outgoing.failures import ALERT_NOT_IN_CRM
from router.service.outcome import IDLE
from tests.flows.outgoing.world import ALICE, CAROL, PASSWORD, SVC, OutgoingWorld

pytestmark = pytest.mark.flow

DANA = "dana@contoso.com"
CONFIG_UPDATE_PERIOD = 3600.0


def alerts(world: OutgoingWorld, mailbox: str) -> list[str]:
    with world.store() as store:
        return [alert.kind for alert in store.alerts.open_alerts(mailbox)]


def test_a_mailbox_the_crm_adds_later_is_served_after_config_update_period(world: OutgoingWorld) -> None:
    world.sim.control.seed({"users": [{"address": DANA, "name": "Dana Dale", "password": PASSWORD}]})
    world.grant("full_access", DANA)
    world.grant("send_as", DANA)
    world.publish(users=(ALICE, DANA))
    assert world.run(DANA) == IDLE
    assert alerts(world, DANA) == [ALERT_NOT_IN_CRM]

    approved = MailboxSettings(approval=Approval.APPROVED)
    dana = world.crm.add_user("Dana Dale", DANA, "CONTOSO\\dana", settings=approved)
    email_id = world.pending(dana, CAROL)
    assert world.run(DANA) == IDLE, "Load Data is not read again before ConfigUpdatePeriod"
    world.clock.advance(CONFIG_UPDATE_PERIOD)
    assert world.run(DANA).processed == 1
    assert world.status(email_id) is EmailStatus.SENT
    assert alerts(world, DANA) == [], "sending again resolves the alert"


def test_a_mailbox_whose_outgoing_method_is_not_the_router_sends_nothing(world: OutgoingWorld) -> None:
    world.grant("full_access")
    world.grant("send_as")
    world.crm.set_mailbox(ALICE, outgoingemaildeliverymethod=int(OutgoingDeliveryMethod.NONE))
    world.publish()
    assert world.run(ALICE) == IDLE
    assert alerts(world, ALICE) == [ALERT_NOT_IN_CRM]
    assert world.inbox(SVC, "sentitems") == [] and world.journal() == []

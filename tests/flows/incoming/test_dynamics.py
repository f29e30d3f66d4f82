"""One flow through the Dynamics adapter: the lane talks to the Web API facade over HTTP (NTLM)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pydantic import SecretStr

from router.crm.codes import CorrelationMethod
from router.crm.facade import CrmFacade
from router.vault import PasswordCredential, Vault
from tests.flows.incoming.rig import ALICE, BERT, CAROL, Rig, binding
from tests.support.crm import SERVICE_ACCOUNT, SERVICE_PASSWORD, facade_credentials

pytestmark = pytest.mark.flow


@pytest.fixture
def facade(rig: Rig) -> Iterator[CrmFacade]:
    with CrmFacade(rig.crm, credentials=facade_credentials()) as running:
        yield running


def test_delivery_through_the_dynamics_web_api(rig: Rig, facade: CrmFacade) -> None:
    Vault.open(rig.home).set("crm", PasswordCredential(username=SERVICE_ACCOUNT,
                                                       password=SecretStr(SERVICE_PASSWORD)))
    dynamics = (f'[deployments.contoso.dynamics]\nurl = "{facade.api_url("9.0", "contoso")}"\n'
                'auth = "ntlm"\ncredential = "crm"\ninsecure_allow_clear_text_over_http = true\n')
    rig.publish(binding("users", ALICE) + binding("users", BERT), crm=dynamics)
    rig.sim.control.inject(ALICE, from_=CAROL, to=[ALICE, BERT], subject="Via Dynamics", body="hello",
                           message_id="<dyn@fabrikam.com>")
    rig.sim.control.inject(BERT, from_=CAROL, to=[ALICE, BERT], subject="Via Dynamics", body="hello",
                           message_id="<dyn@fabrikam.com>")
    rig.sim.control.inject(ALICE, from_=CAROL, to=[ALICE], subject="Re: Via Dynamics", body="more",
                           message_id="<dyn2@fabrikam.com>", in_reply_to="<dyn@fabrikam.com>")
    rig.drain(ALICE)
    rig.drain(BERT)
    [first] = rig.activities("<dyn@fabrikam.com>")
    [second] = rig.activities("<dyn2@fabrikam.com>")
    assert rig.crm.email(second).row["correlationmethod"] == int(CorrelationMethod.IN_REPLY_TO)
    assert rig.crm.email(second).row["parentactivityid"] == first
    with rig.store() as store:
        deliveries = {(d.mailbox, d.result) for d in store.trail.for_message_id("<dyn@fabrikam.com>")
                      if d.stage == "deliver"}
        [reply] = [d for d in store.trail.for_message_id("<dyn2@fabrikam.com>") if d.stage == "deliver"]
    assert deliveries == {(ALICE, "delivered"), (BERT, "duplicate")}
    assert reply.correlation_method == "in-reply-to" and reply.activity_id == second
    assert all(m.categories == ["Tracked to Dynamics 365"] for box in (ALICE, BERT)
               for m in rig.sim.control.messages(box))

"""The embedded CRM's call journal and the delivery audit counted from it."""

from __future__ import annotations

from datetime import timedelta

import pytest

from router.clock import FrozenClock
from router.crm.embedded import EmbeddedCrm, EmbeddedGateway
from router.crm.embedded.journal import CHECK, DELIVER, Outcome, audit_deliveries, entries
from router.errors import CrmPermanentError
from tests.support.crm import SERVICE_ACCOUNT, Organisation, incoming_email


def test_every_check_and_delivery_is_journalled(embedded_crm: EmbeddedCrm, crm_org: Organisation,
                                                crm_clock: FrozenClock) -> None:
    gateway = EmbeddedGateway(embedded_crm, SERVICE_ACCOUNT)
    gateway.check_incoming(incoming_email())
    gateway.check_incoming(incoming_email(message_id="<no@x.test>", sender="stranger@example.org"))
    first = gateway.deliver_incoming(incoming_email())
    crm_clock.advance(5)
    again = gateway.deliver_incoming(incoming_email())
    assert first.email_id == again.email_id  # The CRM's duplicate check, kept as Dynamics has it.
    with embedded_crm.reading() as conn:
        journal = entries(conn)
    assert [(e.operation, e.message_id, e.outcome) for e in journal] == [
        (CHECK, "<m1@fabrikam.com>", Outcome.DELIVER), (CHECK, "<no@x.test>", Outcome.SKIP),
        (DELIVER, "<m1@fabrikam.com>", Outcome.CREATED), (DELIVER, "<m1@fabrikam.com>", Outcome.EXISTING)]
    assert journal[3].activity_id == first.email_id and journal[3].at == crm_clock.now()


def test_a_failed_delivery_leaves_no_journal_entry(embedded_crm: EmbeddedCrm, crm_org: Organisation) -> None:
    from router.crm.messages import incoming_message

    with pytest.raises(CrmPermanentError):
        embedded_crm.deliver_incoming_email(SERVICE_ACCOUNT, incoming_message(
            incoming_email(sender="stranger@example.org")), validate=True)
    with embedded_crm.reading() as conn:
        assert entries(conn, DELIVER) == []


def test_the_audit_fails_a_redelivery_no_kill_explains(embedded_crm: EmbeddedCrm, crm_org: Organisation,
                                                       crm_clock: FrozenClock) -> None:
    gateway = EmbeddedGateway(embedded_crm, SERVICE_ACCOUNT)
    gateway.deliver_incoming(incoming_email())
    gateway.deliver_incoming(incoming_email(message_id="<m2@fabrikam.com>"))
    crm_clock.advance(10)
    kill = crm_clock.now()
    crm_clock.advance(10)
    gateway.deliver_incoming(incoming_email())
    with embedded_crm.reading() as conn:
        journal = entries(conn)
    unexplained = audit_deliveries(journal)
    assert unexplained.duplicates == 0 and unexplained.delivered == {"<m1@fabrikam.com>": 1,
                                                                     "<m2@fabrikam.com>": 1}
    [redelivery] = unexplained.unexplained
    assert redelivery.message_id == "<m1@fabrikam.com>"
    assert unexplained.times_delivered("<M1@fabrikam.com>") == 2
    explained = audit_deliveries(journal, kills=[kill])
    assert explained.unexplained == [] and explained.redeliveries[0].kill == kill
    # A kill before the first delivery explains nothing.
    assert audit_deliveries(journal, kills=[kill - timedelta(hours=1)]).unexplained != []

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


def test_a_call_with_a_stale_fencing_token_is_refused_and_leaves_no_trace(
        embedded_crm: EmbeddedCrm, crm_org: Organisation, crm_clock: FrozenClock) -> None:
    from router.errors import ClaimLostError
    from router.state import fencing
    from router.state.fencing import LaneToken

    gateway = EmbeddedGateway(embedded_crm, SERVICE_ACCOUNT)
    paused, heir = LaneToken.of("Alice@X.test", "incoming", 4), LaneToken.of("alice@x.test", "incoming", 5)
    with fencing.bound(lambda conn: None, paused):
        assert gateway.check_incoming(incoming_email()).should_deliver  # Before the hand-over: admitted.
    with fencing.bound(lambda conn: None, heir):
        delivered = gateway.deliver_incoming(incoming_email())
    with fencing.bound(lambda conn: None, paused), pytest.raises(ClaimLostError, match=r"token 4.*token 5"):
        gateway.deliver_incoming(incoming_email())  # The paused instance wakes up and tries.
    with fencing.bound(lambda conn: None, paused), pytest.raises(ClaimLostError):
        gateway.check_incoming(incoming_email())
    other_lane = LaneToken.of("bob@x.test", "incoming", 1)
    with fencing.bound(lambda conn: None, other_lane):
        gateway.deliver_incoming(incoming_email(message_id="<m2@fabrikam.com>"))  # Lanes are fenced apart.
    gateway.deliver_incoming(incoming_email(message_id="<m3@fabrikam.com>"))  # No token: not fenced.
    with embedded_crm.reading() as conn:
        journal = entries(conn, DELIVER)
    assert [(e.message_id, e.fence) for e in journal] == [
        ("<m1@fabrikam.com>", heir), ("<m2@fabrikam.com>", other_lane), ("<m3@fabrikam.com>", None)]
    assert journal[0].activity_id == delivered.email_id


def test_a_redelivery_after_the_lane_changed_hands_at_a_pause_is_explained(
        embedded_crm: EmbeddedCrm, crm_org: Organisation, crm_clock: FrozenClock) -> None:
    from router.state import fencing
    from router.state.fencing import LaneToken

    gateway = EmbeddedGateway(embedded_crm, SERVICE_ACCOUNT)
    old, new = LaneToken.of("alice@x.test", "incoming", 1), LaneToken.of("alice@x.test", "incoming", 2)
    pause = crm_clock.now()
    crm_clock.advance(5)
    # The paused instance's call lands after the pause began (it was on its way); its record is fenced,
    # so the lane's next holder finds the activity (Duplicate) and delivers again to learn it.
    with fencing.bound(lambda conn: None, old):
        gateway.deliver_incoming(incoming_email())
    crm_clock.advance(5)
    with fencing.bound(lambda conn: None, new):
        gateway.deliver_incoming(incoming_email())
        crm_clock.advance(5)
        gateway.deliver_incoming(incoming_email())  # The same holder again: nothing explains it.
    with embedded_crm.reading() as conn:
        journal = entries(conn)
    audit = audit_deliveries(journal, kills=[pause])
    first, second = audit.redeliveries
    assert first.excused and "changed hands (token 1 -> 2)" in first.cause and first.kind == "hand-over"
    assert not second.excused and audit.unexplained == [second]
    assert len(audit_deliveries(journal).unexplained) == 2  # No pause at all: neither is explained.


def test_an_older_crm_database_gains_the_journals_new_columns(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import sqlite3

    path = tmp_path / "crm.db"
    with sqlite3.connect(path) as old:
        old.execute("CREATE TABLE call_journal (id INTEGER PRIMARY KEY, at DATETIME NOT NULL, operation "
                    "VARCHAR(32) NOT NULL, messageid VARCHAR(320) NOT NULL, outcome VARCHAR(16) NOT NULL, "
                    "activityid VARCHAR(36))")
    with EmbeddedCrm(path) as crm, crm.reading() as conn:
        assert entries(conn) == []
    with sqlite3.connect(path) as upgraded:
        columns = {row[1] for row in upgraded.execute("PRAGMA table_info(call_journal)")}
    assert {"lane", "token"} <= columns

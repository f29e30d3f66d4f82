"""Party resolution in the embedded CRM: indexed, case-insensitive, oldest active record first."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text, update

from router.clock import FrozenClock
from router.crm.embedded import EmbeddedCrm
from router.crm.embedded.schema import contact
from tests.support.crm import Organisation


def test_an_address_resolves_whatever_its_case(embedded_crm: EmbeddedCrm, crm_org: Organisation) -> None:
    made = embedded_crm.add_customer("contact", "Zed", "Zed.Mixed@Example.ORG")
    assert embedded_crm.resolve("zed.mixed@example.org") == made
    assert embedded_crm.resolve("  ZED.MIXED@example.org ") == made


def test_the_oldest_active_record_of_the_first_type_wins(embedded_crm: EmbeddedCrm, crm_org: Organisation,
                                                         crm_clock: FrozenClock) -> None:
    lead = embedded_crm.add_customer("lead", "Early lead", "twin@example.org")
    crm_clock.advance(5)
    first = embedded_crm.add_customer("contact", "First", "twin@example.org")
    crm_clock.advance(5)
    second = embedded_crm.add_customer("contact", "Second", "twin@example.org")
    assert embedded_crm.resolve("twin@example.org") == first
    with embedded_crm.writing() as conn:
        conn.execute(update(contact).where(contact.c.contactid == first.id).values(statecode=1))
    assert embedded_crm.resolve("twin@example.org") == second
    with embedded_crm.writing() as conn:
        conn.execute(update(contact).where(contact.c.contactid == second.id).values(statecode=1))
    assert embedded_crm.resolve("twin@example.org") == lead


def test_an_address_in_the_second_or_third_column_resolves(embedded_crm: EmbeddedCrm,
                                                           crm_org: Organisation) -> None:
    made = embedded_crm.add_customer("account", "Firm", "sales@firm.example")
    with embedded_crm.writing() as conn:
        conn.execute(text("UPDATE account SET emailaddress3 = 'Billing@Firm.example' WHERE accountid = :id"),
                     {"id": made.id})
    assert embedded_crm.resolve("billing@firm.example") == made
    assert embedded_crm.resolve("nobody@firm.example") is None


def test_lookups_use_the_address_indexes(embedded_crm: EmbeddedCrm) -> None:
    with embedded_crm.reading() as conn:
        plan = " ".join(str(row[3]) for row in conn.exec_driver_sql(
            "EXPLAIN QUERY PLAN SELECT contactid FROM contact WHERE lower(emailaddress2) = 'a@b'"))
    assert "ix_contact_emailaddress2_lower" in plan


def test_a_database_made_before_the_indexes_gets_them_on_open(tmp_path: Path, crm_clock: FrozenClock) -> None:
    path = tmp_path / "crm.sqlite"
    with EmbeddedCrm(path, clock=crm_clock) as crm, crm.writing() as conn:
        conn.execute(text("DROP INDEX ix_lead_emailaddress1_lower"))
    with EmbeddedCrm(path, clock=crm_clock) as crm, crm.reading() as conn:
        names = {row[0] for row in conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'index'"))}
    assert "ix_lead_emailaddress1_lower" in names

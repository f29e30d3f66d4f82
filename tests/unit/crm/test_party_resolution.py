"""Party resolution in the embedded CRM: indexed, case-insensitive, oldest active record first."""

from __future__ import annotations

import random
from pathlib import Path

from sqlalchemy import event, text, update

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


def test_resolving_a_batch_at_once_finds_what_resolving_each_address_finds(
    embedded_crm: EmbeddedCrm, crm_org: Organisation, crm_clock: FrozenClock
) -> None:
    from router.crm.embedded.lookups import memoized
    from router.crm.embedded.records import resolve_address, resolve_all

    rng = random.Random(7)
    kinds = ["contact", "account", "lead"]
    pool = [f"p{n}@example.org" for n in range(12)]
    for n in range(40):
        address = rng.choice(pool)
        embedded_crm.add_customer(rng.choice(kinds), f"R{n}", address.upper() if n % 3 else address)
        crm_clock.advance(rng.choice([0, 1]))  # equal creation times too: insertion order decides
    embedded_crm.add_queue("Twin queue", pool[0])
    with embedded_crm.writing() as conn:  # some records inactive
        conn.execute(update(contact).where(contact.c.fullname.in_(["R1", "R2", "R5"])).values(statecode=1))
    wanted = [*pool, " P3@EXAMPLE.org ", "alice@contoso.com", "nobody@example.org", ""]
    with embedded_crm.reading() as conn:
        one_by_one = {a: resolve_address(conn, a) for a in wanted}
    with embedded_crm.reading() as conn, memoized(conn):
        resolve_all(conn, wanted)
        statements: list[str] = []
        event.listen(conn, "before_cursor_execute", lambda *args: statements.append(args[2]))
        at_once = {a: resolve_address(conn, a) for a in wanted}
    assert at_once == one_by_one and statements == []
    assert any(ref is not None and ref.logical_name == "account" for ref in at_once.values())

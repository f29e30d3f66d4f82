"""Smart matching through the indexed subject keys (``subjects``) finds what comparing every e-mail's
normalised subject finds: with many activities, odd subjects, keys not yet computed, changed subjects,
changed token prefixes and a database made before the keys existed."""

from __future__ import annotations

import random
import re
from pathlib import Path

from sqlalchemy import select

from router.clock import FrozenClock
from router.crm.codes import CorrelationMethod
from router.crm.embedded import EmbeddedCrm
from router.crm.embedded.correlation import _CANDIDATES, SMART_MATCH_CANDIDATES, normalize_subject
from router.crm.embedded.gateway import EmbeddedGateway
from router.crm.embedded.schema import activityparty, email, email_subject_key
from router.crm.gateway import DeliverResult
from tests.support.crm import SERVICE_ACCOUNT, incoming_email, seed_organisation


def _deliver(gateway: EmbeddedGateway, message_id: str, subject: str, **fields: object) -> DeliverResult:
    return gateway.deliver_incoming(incoming_email(message_id=message_id, subject=subject, **fields))


def _batch(gateway: EmbeddedGateway, subjects: list[str], prefix: str) -> list[DeliverResult]:
    emails = [incoming_email(message_id=f"<{prefix}{n}@fabrikam.com>", subject=subject)
              for n, subject in enumerate(subjects)]
    answers = gateway.check_and_deliver_incoming(emails)
    return [a.delivered for a in answers if a.delivered is not None]


def test_many_activities_with_the_subject_inside_theirs_do_not_hide_the_match(
    embedded_gateway: EmbeddedGateway,
) -> None:
    first = _deliver(embedded_gateway, "<target@fabrikam.com>", "Spring order")
    # More newer e-mails than the candidate limit, each containing "spring order" but another subject.
    _batch(embedded_gateway, [f"Spring order {n}" for n in range(SMART_MATCH_CANDIDATES + 50)], "noise")
    reply = _deliver(embedded_gateway, "<reply@fabrikam.com>", "RE: spring ORDER")
    assert reply.correlation_method is CorrelationMethod.SMART_MATCHING
    assert reply.parent_email_id == first.email_id


def test_odd_subjects_match_only_their_own_normal_form(embedded_gateway: EmbeddedGateway) -> None:
    cases = {
        "ÄRGER mit der Bestellung": "Aw: ärger MIT der bestellung",  # non-ASCII case folding
        "50% off_today": "RE: 50% off_today",  # SQL LIKE wildcards are plain characters
        "Quote   for\tBert": "FW: quote for bert",  # spacing
        "Invoice CRM:0001001 March": "RE: Invoice March",  # a token in the middle
        "x" * 790: "RE: " + "X" * 790,  # long
    }
    parents = {s: _deliver(embedded_gateway, f"<odd{n}@fabrikam.com>", s) for n, s in enumerate(cases)}
    for n, (subject, reply) in enumerate(cases.items()):
        matched = _deliver(embedded_gateway, f"<oddreply{n}@fabrikam.com>", reply)
        assert matched.correlation_method is CorrelationMethod.SMART_MATCHING, reply
        assert matched.parent_email_id == parents[subject].email_id, reply
    # A subject of prefixes alone, or empty, has nothing to compare: no smart match.
    for n, subject in enumerate(["RE:", "", "FW: RE:  "]):
        lonely = _deliver(embedded_gateway, f"<empty{n}@fabrikam.com>", subject)
        assert lonely.correlation_method is CorrelationMethod.NONE


def _brute_force(crm: EmbeddedCrm, subject: str, addresses: set[str]) -> str | None:
    """The newest e-mail smart matching must find, by comparing every e-mail (no index, no limit)."""
    org = crm.organization()
    core = normalize_subject(org, subject)
    with crm.reading() as conn:
        emails = conn.execute(select(email.c.activityid, email.c.subject).order_by(
            email.c.createdon.desc(), email.c.activityid.desc())).all()
        parties = conn.execute(select(activityparty.c.activityid, activityparty.c.addressused)).all()
    by_email: dict[str, set[str]] = {}
    for activity, address in parties:
        by_email.setdefault(activity, set()).add((address or "").lower())
    for activity, other in emails:
        if core and normalize_subject(org, other) == core and len(
            addresses & by_email.get(activity, set())
        ) >= org.hash_min_address_count:
            return str(activity)
    return None


def test_random_subjects_match_as_comparing_every_email_does(
    embedded_crm: EmbeddedCrm, embedded_gateway: EmbeddedGateway, crm_clock: FrozenClock
) -> None:
    rng = random.Random(12)
    words = ["order", "Order", "ORDER ", "quote", "RE:", "fw:", "CRM:0001001", "été", "Été", "  ", "a"]
    # One e-mail per second of the frozen clock keeps "newest" unambiguous for the brute force.
    for n in range(120):
        subject = " ".join(rng.choice(words) for _ in range(rng.randint(1, 4)))
        sender = rng.choice(["carol@fabrikam.com", "dave@litware.com"])
        wanted = _brute_force(embedded_crm, subject, {sender, "alice@contoso.com"})
        got = _deliver(embedded_gateway, f"<r{n}@fabrikam.com>", subject, sender=sender)
        if got.correlation_method is CorrelationMethod.SMART_MATCHING:
            assert got.parent_email_id == wanted, subject
        elif got.correlation_method is CorrelationMethod.NONE:
            assert wanted is None, subject
        crm_clock.advance(1)


def test_a_changed_subject_and_changed_prefixes_change_the_keys(
    embedded_crm: EmbeddedCrm, embedded_gateway: EmbeddedGateway
) -> None:
    first = _deliver(embedded_gateway, "<c1@fabrikam.com>", "Budget")
    embedded_crm.update_email(SERVICE_ACCOUNT, first.email_id, {"subject": "Budget 2027 TKT:42"})
    assert _deliver(embedded_gateway, "<c2@fabrikam.com>", "RE: Budget").correlation_method is (
        CorrelationMethod.NONE
    )
    embedded_crm.update_organization(trackingprefix="TKT:")  # "TKT:42" is now a token: stripped
    matched = _deliver(embedded_gateway, "<c3@fabrikam.com>", "RE: Budget 2027")
    assert matched.correlation_method is CorrelationMethod.SMART_MATCHING
    assert matched.parent_email_id == first.email_id
    _batch(embedded_gateway, ["Another"], "later")  # a batch computes the keys still to compute first
    with embedded_crm.reading() as conn:
        keys = conn.execute(select(email_subject_key.c.activityid, email_subject_key.c.subjectkey)).all()
        count = len(conn.execute(select(email.c.activityid)).all())
    assert dict(keys)[first.email_id] == "budget 2027" and len(keys) == count
    assert sum(1 for _, key in keys if key is None) == 1  # the batch's own new e-mail: computed next time


def test_a_database_made_before_the_keys_gets_them_when_opened(
    tmp_path: Path, embedded_crm: EmbeddedCrm, crm_clock: FrozenClock
) -> None:
    seed_organisation(embedded_crm)
    gateway = EmbeddedGateway(embedded_crm, SERVICE_ACCOUNT)
    first = _deliver(gateway, "<old1@fabrikam.com>", "Old subject")
    with embedded_crm.writing() as conn:  # what an older version's file looks like
        for trigger in ("insert", "update", "delete", "prefixes"):
            conn.exec_driver_sql(f"DROP TRIGGER email_subject_key_{trigger}")
        conn.exec_driver_sql("DROP TABLE email_subject_key")
    embedded_crm.close()
    reopened = EmbeddedCrm(tmp_path / "crm.sqlite", clock=crm_clock)
    try:
        gateway = EmbeddedGateway(reopened, SERVICE_ACCOUNT)
        matched = _deliver(gateway, "<old2@fabrikam.com>", "RE: old subject")
        assert matched.correlation_method is CorrelationMethod.SMART_MATCHING
        assert matched.parent_email_id == first.email_id
    finally:
        reopened.close()
    again = EmbeddedCrm(tmp_path / "crm.sqlite", clock=crm_clock)  # opening twice is harmless
    again.close()


def test_the_candidates_are_found_through_the_index(embedded_crm: EmbeddedCrm) -> None:
    with embedded_crm.reading() as conn:
        sql = str(_CANDIDATES.compile(conn))
        plan = " ".join(row[3] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", ("x", 10, 0)))
    # Only the candidates themselves (at most the limit) are scanned, to join their parties by index.
    assert "ix_email_subject_key" in plan
    assert not re.search(r"SCAN (email|activityparty|email_subject_key)\b", plan)

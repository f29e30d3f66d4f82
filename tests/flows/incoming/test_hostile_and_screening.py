"""Hostile MIME and machine mail through the real lane: every message ends with a recorded decision
(delivered, screened, refused or quarantined with its reason) and the lane never dies."""

from __future__ import annotations

import pytest

from router.state import LedgerStage, QuarantineStatus
from tests.flows.incoming.rig import BERT, CAROL, Rig, binding
from tests.unit.pipeline.incoming.builders import corpus, corpus_names, mime

pytestmark = pytest.mark.flow

FINAL = {LedgerStage.ACKNOWLEDGED, LedgerStage.SCREENED, LedgerStage.QUARANTINED}


def test_the_hostile_corpus_never_kills_the_lane(rig: Rig) -> None:
    # "Huge" is huge relative to the size policy (4 MB here), not to Exchange's 35 MB, to keep it quick.
    rig.publish(binding("users", BERT), settings="[settings.incoming]\nmax_message_bytes = 4000000\n")
    names = corpus_names()
    ids = {rig.sim.control.inject(BERT, corpus(name)): name for name in names}
    huge = mime("Message-ID: <huge@fabrikam.example>", body="x" * 5 * 1024 * 1024)
    ids[rig.sim.control.inject(BERT, huge)] = "huge"
    rig.drain(BERT)
    with rig.store() as store:
        entries = {e.item_id: e for e in _ledger(store, BERT)}
        assert len(entries) == len(ids), "every item has a ledger row"
        for item_id, entry in entries.items():
            assert entry.stage in FINAL, (ids.get(item_id), entry)
            decisions = store.trail.for_message(BERT, entry.message_key)
            assert decisions and all(d.result for d in decisions), ids.get(item_id)
            if entry.stage is LedgerStage.QUARANTINED:
                q = store.quarantine.find(BERT, entry.message_key)
                assert q is not None and q.reason and q.status is QuarantineStatus.OPEN
        quarantined = {e.message_key for e in entries.values() if e.stage is LedgerStage.QUARANTINED}
        assert len(quarantined) >= 4  # zero-byte, whitespace, binary, and the huge message
        assert store.quarantine.find(BERT, "<huge@fabrikam.example>").reason_code == "body-too-large"
    tagged = [m for m in rig.sim.control.messages(BERT) if "Undeliverable" in m.categories]
    assert len(tagged) == len(quarantined)
    assert rig.incoming_count() >= 15


def test_auto_replies_bounces_and_loops_are_screened_with_their_reasons(rig: Rig) -> None:
    rig.publish(binding("users", BERT))
    machine = {
        "oof": mime("Message-ID: <oof@fabrikam.example>", "Auto-Submitted: auto-replied"),
        "bounce": corpus("dsn-bounce.eml"),
        "receipt": corpus("mdn-read-receipt.eml"),
        "loop": mime("Message-ID: <loop@fabrikam.example>", "X-Email-Router-Loop: contoso"),
        "bulk": mime("Message-ID: <bulk@fabrikam.example>", "Precedence: bulk",
                     "Auto-Submitted: auto-generated"),
        "person": mime("Message-ID: <person@fabrikam.example>", "X-Email-Router-Loop: other-org"),
    }
    for raw in machine.values():
        rig.sim.control.inject(BERT, raw)
    rig.drain(BERT)
    with rig.store() as store:
        codes = {d.internet_message_id: d.reason_code for d in store.trail.recent(BERT)
                 if d.stage == "screen"}
    assert codes["<oof@fabrikam.example>"] == "auto-submitted"
    assert codes["<dsn-1@mail.contoso.example>"] == "delivery-report"
    assert codes["<loop@fabrikam.example>"] == "own-loop"
    assert codes["<bulk@fabrikam.example>"] == "auto-submitted"
    assert codes["<person@fabrikam.example>"] == "accepted"
    assert rig.activities("<person@fabrikam.example>") and not rig.activities("<oof@fabrikam.example>")
    untouched = [m for m in rig.sim.control.messages(BERT) if m.message_id != "<person@fabrikam.example>"]
    assert all(m.categories == [] for m in untouched), "screened mail in a person's mailbox is left alone"


def test_a_sender_over_the_rate_limit_is_skipped_not_lost(rig: Rig) -> None:
    rig.publish(binding("users", BERT), settings="[settings.incoming]\nsender_rate_limit = 3\n")
    for n in range(5):
        rig.sim.control.inject(BERT, from_=CAROL, to=[BERT], subject=f"flood {n}", body="again",
                               message_id=f"<flood{n}@fabrikam.com>")
    rig.drain(BERT)
    with rig.store() as store:
        skipped = [d for d in store.trail.recent(BERT) if d.reason_code == "rate-limited"]
    assert len(skipped) == 2 and "limit 3" in (skipped[0].text or "")
    assert sum(len(rig.activities(f"<flood{n}@fabrikam.com>")) for n in range(5)) == 3


def _ledger(store: object, mailbox: str) -> list:  # type: ignore[type-arg]
    from sqlalchemy import select

    from router.state.ledger import LedgerEntry
    from router.state.schema import incoming_ledger

    with store.db.read() as conn:  # type: ignore[attr-defined]
        rows = conn.execute(select(incoming_ledger).where(incoming_ledger.c.mailbox == mailbox))
        return [LedgerEntry.from_row(r) for r in rows]


def test_skips_and_quarantines_are_counted_in_the_metrics(rig: Rig) -> None:
    rig.publish(binding("users", BERT))
    rig.sim.control.inject(BERT, corpus("dsn-bounce.eml"))
    rig.sim.control.inject(BERT, corpus("zero-byte.eml"))
    resources = rig.resources()
    try:
        rig.run_once(resources, BERT)
    finally:
        resources.close()
    exported = resources.metrics.exposition().decode()
    assert 'messages_screened_out_total{mailbox="bert@contoso.com",reason="delivery_report"} 1.0' in exported
    assert 'messages_quarantined_total{mailbox="bert@contoso.com",stage="parse"} 1.0' in exported

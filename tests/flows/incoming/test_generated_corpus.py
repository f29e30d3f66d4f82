"""A generated corpus through the real lane: every item ends with a recorded fate, an acknowledgement
(or, for screened mail in a person's mailbox, the recorded decision to leave it alone), and a count.

Hypothesis draws the corpus once (``tests.support.generated_mail``, derandomised so CI sees the same
messages every run); the whole corpus is injected into one mailbox and drained by one lane in its
usual batches, which keeps the test to about a minute on a loaded machine.
"""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings

from router.pipeline.incoming.ledger_keys import ITEM_SUFFIX
from router.state import LedgerStage
from tests.flows.incoming.fates_kit import assert_counts_add_up, drain_counted, ledger_by_item
from tests.flows.incoming.rig import BERT, Rig, binding
from tests.support.generated_mail import messages

pytestmark = [pytest.mark.flow, pytest.mark.slow]

CORPUS_SIZE = 400
TRACKED, UNDELIVERABLE = ["Tracked to Dynamics 365"], ["Undeliverable"]


def generated_corpus(size: int = CORPUS_SIZE) -> list[bytes]:
    """``size`` messages drawn by Hypothesis (the same ones every run)."""
    drawn: list[bytes] = []

    @settings(max_examples=size, database=None, derandomize=True, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(messages())
    def collect(raw: bytes) -> None:
        drawn.append(raw)

    collect()
    return drawn


def test_every_generated_message_ends_with_a_recorded_fate(rig: Rig) -> None:
    rig.publish(binding("users", BERT),
                settings="batch_size = 50\n[settings.incoming]\nsender_rate_limit = 100000\n")
    corpus = generated_corpus()
    assert len(corpus) == CORPUS_SIZE
    injected = {rig.sim.control.inject(BERT, raw): raw for raw in corpus}
    metrics = drain_counted(rig, BERT)

    counted = assert_counts_add_up(metrics, BERT)
    assert counted["fetched"] == CORPUS_SIZE and counted["deferred"] == 0, counted
    on_server = {item.id: item for item in rig.sim.control.messages(BERT)}
    fates: Counter[str] = Counter()
    with rig.store() as store:
        rows = ledger_by_item(store, BERT)
        for item_id in injected:
            [entry] = rows[item_id]
            assert entry.stage.final, (entry, injected[item_id][:300])
            trail = store.trail.for_message(BERT, entry.message_key)
            assert trail, f"no decision recorded for item {item_id}"
            last = [d for d in trail if d.stage not in ("content", "acknowledge")][-1]
            fates[f"{entry.stage.value}/{last.result}/{last.reason_code}"] += 1
            categories = on_server[item_id].categories
            fates["own ledger key (#item-)"] += ITEM_SUFFIX in entry.message_key
            fates["precedence only a hint"] += any("only a hint" in (d.text or "") for d in trail)
            changed = [d.text or "" for d in trail if (d.stage, d.result) == ("content", "changed")]
            fates.update(f"change: {c.split(' ', 1)[0]}" for text in changed for c in text.split("; "))
            if entry.stage is LedgerStage.ACKNOWLEDGED:
                assert categories == TRACKED and trail[-1].stage == "acknowledge", trail
                description = str(rig.crm.email(entry.activity_id or "").row["description"])
                assert "Content-Type:" not in description and "\n--b" not in description, description
            elif entry.stage is LedgerStage.QUARANTINED:
                assert categories == UNDELIVERABLE
            else:
                assert categories == [], "screened mail in a person's mailbox is left as it is"
    print(f"generated corpus: {CORPUS_SIZE} messages; metrics {counted}; fates {dict(fates)}")

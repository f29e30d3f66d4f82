"""Helpers of the fate tests: drain a mailbox keeping the run's metrics, read fates and the sum."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from router.config import load_published
from router.pipeline.incoming.lanes import IncomingLanes
from router.runtime.metrics import Metrics
from router.service.drain import drain_mailbox
from router.state import LedgerEntry, StateStore
from router.state.schema import incoming_ledger
from tests.flows.incoming.rig import Rig

FATES = ("delivered", "duplicate", "screened_out", "quarantined", "deferred")


def drain_counted(rig: Rig, mailbox: str) -> Metrics:
    """Drain ``mailbox`` through the real lane with resources of its own; return their metrics."""
    resources = rig.resources()
    lanes = IncomingLanes(resources, notifications=False)
    try:
        drain_mailbox(lanes, load_published(rig.home), mailbox)
    finally:
        lanes.close()
        resources.close()
    return resources.metrics


def totals(metrics: Metrics, mailbox: str) -> dict[str, float]:
    """``fetched`` and each fate's total for ``mailbox``, read from the ``/metrics`` exposition."""
    found = dict.fromkeys(("fetched", *FATES), 0.0)
    for family in text_string_to_metric_families(metrics.exposition().decode()):
        for sample in family.samples:
            name = sample.name.removeprefix("email_router_messages_").removesuffix("_total")
            if sample.name.endswith("_total") and name in found and sample.labels.get("mailbox") == mailbox:
                found[name] += sample.value
    return found


def assert_counts_add_up(metrics: Metrics, mailbox: str) -> dict[str, float]:
    """``fetched = delivered + duplicate + screened + quarantined + deferred``; returns the totals."""
    counted = totals(metrics, mailbox)
    assert counted["fetched"] == sum(counted[f] for f in FATES), counted
    return counted


def ledger_by_item(store: StateStore, mailbox: str) -> dict[str, list[LedgerEntry]]:
    """Every ledger row of ``mailbox``, by the item id it records."""
    found: dict[str, list[LedgerEntry]] = {}
    with store.db.read() as conn:
        for row in conn.execute(select(incoming_ledger).where(incoming_ledger.c.mailbox == mailbox)):
            entry = LedgerEntry.from_row(row)
            found.setdefault(entry.item_id or "", []).append(entry)
    return found

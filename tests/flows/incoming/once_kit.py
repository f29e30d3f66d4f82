"""What the incoming exactly-once tests share, one instance or three: where the worker is killed, and
what "exactly once" means afterwards — counted from the CRM's call journal, not the router's records.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from router.crm.embedded import EmbeddedCrm
from router.crm.embedded.journal import DeliveryAudit, audit_deliveries, entries
from router.pipeline.incoming.checkpoints import Step
from router.state import LedgerStage, StateStore
from tests.flows.incoming.rig import Rig

KILL_POINTS = [
    (Step.FETCHED, 1),
    (Step.CRM_DELIVERED, 1),
    (Step.CRM_DELIVERED, 2),
    (Step.RECORDED, 1),
    (Step.ACKNOWLEDGED, 1),
]
"""Each step boundary a worker is killed at (and the how-many-th time it reaches it): the batch's one
CRM call answers twice (Check, then Deliver), so CRM_DELIVERED is reached twice before the record."""


def in_crm_at_kill(step: Step, messages: Sequence[str]) -> int:
    """Messages in the CRM at a kill at ``step``: the fetched batch is checked and delivered in one CRM
    call and recorded afterwards, so at any CRM_DELIVERED (an answer being concluded) all are in the CRM
    and none is recorded yet."""
    return 0 if step is Step.FETCHED else len(messages)


def redelivered_after_kill(step: Step, messages: Sequence[str]) -> int:
    """Re-deliveries a kill at ``step`` explains: only one between the CRM's commit and the ledger's
    record makes the router deliver again."""
    return len(messages) if step is Step.CRM_DELIVERED else 0


def crm_audit(rig: Rig, kills: Sequence[datetime] = ()) -> DeliveryAudit:
    """Deliveries per Message-ID as the CRM's call journal has them (not the router's own records)."""
    with EmbeddedCrm(rig.home.crm_db) as crm, crm.reading() as conn:
        return audit_deliveries(entries(conn), kills)


def assert_delivered_once(rig: Rig, store: StateStore, messages: Sequence[str],
                          kills: Sequence[datetime] = ()) -> DeliveryAudit:
    """Every message delivered once by the journal (re-deliveries only where a kill explains them), one
    activity each, final in the ledger with that activity, nothing quarantined; returns the audit."""
    audit = crm_audit(rig, kills)
    assert audit.duplicates == 0 and audit.unexplained == [], audit
    for message_id in messages:
        assert audit.delivered.get(message_id.lower()) == 1, message_id
        assert len(rig.activities(message_id)) == 1, message_id
    for message_id in messages:
        [entry] = store.ledger.find_by_message_id(message_id)
        assert entry.stage is LedgerStage.ACKNOWLEDGED, entry
        assert entry.activity_id == rig.activities(message_id)[0]
    assert store.quarantine.entries(status=None) == []
    return audit

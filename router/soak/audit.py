"""The soak's verdict: what was injected and composed, against what the CRM and the journals hold.

Deliveries are counted from the embedded CRM's call journal (every DeliverIncomingEmail it answered),
not from the router's state nor from the CRM's activities (its duplicate check keeps one activity
however often a message is delivered):

* lost inbound: injected Message-IDs the CRM never created an activity for (a quarantined message
  counts as lost: the soak makes nothing unprocessable on purpose);
* duplicate activities: activities created beyond the first per Message-ID;
* re-deliveries: DeliverIncomingEmail calls after the first for a Message-ID; each must be explained
  by a kill or pause (the window between the CRM's commit and the ledger's record: a kill after the
  previous call, or the lane changing hands after a kill or pause before that call was recorded, told
  by the fencing tokens the journal keeps), and any the kills do not explain fails the soak;
* lost sends: composed e-mails that no external recipient received;
* duplicate sends: journal entries beyond the first per composed e-mail (by its subject marker);
* the quarantine: every open entry of the router's state store, with its stage and reason.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from router.clock import SystemClock
from router.crm.codes import EmailStatus
from router.crm.embedded import EmbeddedCrm
from router.crm.embedded.journal import DELIVER, audit_deliveries, entries
from router.crm.embedded.schema import email
from router.demo.views import journal_headers
from router.home import Home
from router.runtime.state_location import open_configured_store
from router.soak.traffic import Traffic

_MARKER = re.compile(r"SOAK-OUT-\d{6}")


@dataclass
class Verdict:
    """Counts of everything the soak checks, and the quarantine's entries."""

    injected: int = 0
    delivered: int = 0
    lost_inbound: list[str] = field(default_factory=list)
    duplicate_activities: int = 0
    redeliveries: int = 0
    redelivery_causes: dict[str, int] = field(default_factory=dict)
    """Re-deliveries by cause (``after-kill``, ``hand-over``, ``unexplained``: see ``audit_deliveries``)."""
    unexplained_redeliveries: list[str] = field(default_factory=list)
    composed: int = 0
    sent_in_crm: int = 0
    received_by_recipients: int = 0
    lost_sends: list[str] = field(default_factory=list)
    duplicate_sends: int = 0
    quarantine: list[dict[str, str]] = field(default_factory=list)
    kills: int = 0
    fault_hits: dict[str, int] = field(default_factory=dict)
    requests_under_faults: int = 0
    seconds: float = 0.0
    instances: int = 1
    pauses: int = 0
    graceful_stops: int = 0
    recovery_seconds_max: float | None = None
    """Longest time from a kill or pause of an instance to all its lanes served by live runs again."""
    handover_seconds_max: float | None = None
    lanes_unrecovered: int = 0
    lane_spread_at_start: list[int] = field(default_factory=list)
    db_outage_seconds: float = 0.0
    lanes_paused_after_seconds: float | None = None
    """From cutting the instances off the database until no lane had a live lease."""
    work_resumed_after_seconds: float | None = None
    """From the database's return until every lane was held again (None: never, which fails the soak)."""
    state_store_alerts: int = 0
    """How many lanes each instance held once they had all started."""
    """Kills, pauses or stops after which the instance's lanes were not served again in time."""

    @property
    def passed(self) -> bool:
        return not (self.lost_inbound or self.duplicate_activities or self.unexplained_redeliveries
                    or self.lost_sends or self.duplicate_sends or self.lanes_unrecovered
                    or (self.db_outage_seconds > 0 and self.work_resumed_after_seconds is None))

    def as_json(self) -> dict[str, object]:
        return {"passed": self.passed, "injected": self.injected, "delivered": self.delivered,
                "lost_inbound": len(self.lost_inbound), "duplicate_activities": self.duplicate_activities,
                "redeliveries": self.redeliveries, "redelivery_causes": self.redelivery_causes,
                "unexplained_redeliveries": len(self.unexplained_redeliveries),
                "composed": self.composed, "sent_in_crm": self.sent_in_crm,
                "received_by_recipients": self.received_by_recipients, "lost_sends": len(self.lost_sends),
                "duplicate_sends": self.duplicate_sends, "quarantined": len(self.quarantine),
                "quarantine": self.quarantine, "kills": self.kills, "fault_hits": self.fault_hits,
                "ews_requests_under_faults": self.requests_under_faults, "seconds": round(self.seconds, 1),
                "instances": self.instances, "recovery_seconds_max": self.recovery_seconds_max,
                "pauses": self.pauses, "graceful_stops": self.graceful_stops,
                "handover_seconds_max": self.handover_seconds_max,
                "lanes_unrecovered": self.lanes_unrecovered,
                "lane_spread_at_start": self.lane_spread_at_start,
                "db_outage_seconds": self.db_outage_seconds,
                "lanes_paused_after_seconds": self.lanes_paused_after_seconds,
                "work_resumed_after_seconds": self.work_resumed_after_seconds,
                "state_store_alerts": self.state_store_alerts}


def _sent_count(crm: EmbeddedCrm, ids: list[str]) -> int:
    with crm.reading() as conn:
        return int(conn.execute(select(func.count()).where(email.c.activityid.in_(ids),
                                                           email.c.statuscode == int(EmailStatus.SENT)))
                   .scalar() or 0)


def audit(traffic: Traffic, home: Home, journal: list[dict[str, Any]],
          kills: Sequence[datetime] = ()) -> Verdict:
    """Compare the traffic with the CRM's call journal, the outbound journal and the quarantine.

    ``journal`` is the simulator's outbound journal; ``kills`` when the router was killed. The router
    must be stopped.
    """
    verdict = Verdict(injected=traffic.injected, composed=traffic.composed)
    _quarantine(home, verdict)
    with EmbeddedCrm(home.crm_db) as crm:
        with crm.reading() as conn:
            calls = audit_deliveries(entries(conn, DELIVER), kills)
        verdict.sent_in_crm = _sent_count(crm, list(traffic.email_ids.values()))
    wanted = [m.message_id for m in traffic.inbound[:traffic.injected]]
    verdict.delivered = sum(1 for m in wanted if calls.delivered.get(m.lower()))
    verdict.lost_inbound = [m for m in wanted if not calls.delivered.get(m.lower())]
    verdict.duplicate_activities = calls.duplicates
    verdict.redeliveries = len(calls.redeliveries)
    verdict.redelivery_causes = dict(Counter(r.kind for r in calls.redeliveries))
    verdict.unexplained_redeliveries = [r.message_id for r in calls.unexplained]
    markers = Counter(found.group(0) for entry in journal
                      if (found := _MARKER.search(journal_headers(entry).get("subject", ""))))
    composed = list(traffic.email_ids)
    verdict.received_by_recipients = sum(1 for m in composed if markers[m])
    verdict.lost_sends = [m for m in composed if not markers[m]]
    verdict.duplicate_sends = sum(markers[m] - 1 for m in composed if markers[m] > 1)
    return verdict


def _quarantine(home: Home, verdict: Verdict) -> None:
    """Fill ``verdict.quarantine`` (shown for diagnosis; a quarantined message is still lost)."""
    store = open_configured_store(home, SystemClock())
    try:
        found = store.quarantine.entries()
    finally:
        store.close()
    verdict.quarantine = [{"mailbox": e.mailbox, "message": e.internet_message_id or e.message_key,
                           "stage": e.stage, "reason": f"{e.reason_code}: {e.reason}"} for e in found]

"""The soak's verdict: what was injected and composed, against what the CRM and the journal hold.

* lost inbound: injected Message-IDs with no incoming CRM e-mail and no quarantine entry;
* duplicate activities: incoming CRM e-mails beyond the first per Message-ID;
* lost sends: composed e-mails that no external recipient received;
* duplicate sends: journal entries beyond the first per composed e-mail (by its subject marker);
* the quarantine: every open entry of the router's state store, with its stage and reason.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select

from router.clock import SystemClock
from router.crm.codes import EmailStatus
from router.crm.embedded import EmbeddedCrm
from router.crm.embedded.schema import email
from router.demo.views import journal_headers
from router.home import Home
from router.soak.traffic import Traffic
from router.state import StateStore

_MARKER = re.compile(r"SOAK-OUT-\d{6}")


@dataclass
class Verdict:
    """Counts of everything the soak checks, and the quarantine's entries."""

    injected: int = 0
    delivered: int = 0
    lost_inbound: list[str] = field(default_factory=list)
    duplicate_activities: int = 0
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

    @property
    def passed(self) -> bool:
        return not (self.lost_inbound or self.duplicate_activities or self.lost_sends or self.duplicate_sends)

    def as_json(self) -> dict[str, object]:
        return {"passed": self.passed, "injected": self.injected, "delivered": self.delivered,
                "lost_inbound": len(self.lost_inbound), "duplicate_activities": self.duplicate_activities,
                "composed": self.composed, "sent_in_crm": self.sent_in_crm,
                "received_by_recipients": self.received_by_recipients, "lost_sends": len(self.lost_sends),
                "duplicate_sends": self.duplicate_sends, "quarantined": len(self.quarantine),
                "quarantine": self.quarantine, "kills": self.kills, "fault_hits": self.fault_hits,
                "ews_requests_under_faults": self.requests_under_faults, "seconds": round(self.seconds, 1)}


def _incoming_counts(crm: EmbeddedCrm) -> Counter[str]:
    with crm.reading() as conn:
        rows = conn.execute(select(email.c.messageid, func.count()).where(email.c.directioncode.is_(False))
                            .group_by(email.c.messageid)).all()
    return Counter({str(message_id): int(count) for message_id, count in rows if message_id})


def _sent_count(crm: EmbeddedCrm, ids: list[str]) -> int:
    with crm.reading() as conn:
        return int(conn.execute(select(func.count()).where(email.c.activityid.in_(ids),
                                                           email.c.statuscode == int(EmailStatus.SENT)))
                   .scalar() or 0)


def audit(traffic: Traffic, home: Home, journal: list[dict[str, Any]]) -> Verdict:
    """Compare the traffic with the CRM, the journal and the quarantine (the router must be stopped)."""
    verdict = Verdict(injected=traffic.injected, composed=traffic.composed)
    quarantined = _quarantine(home, verdict)
    with EmbeddedCrm(home.crm_db) as crm:
        counts = _incoming_counts(crm)
        verdict.sent_in_crm = _sent_count(crm, list(traffic.email_ids.values()))
    wanted = [m.message_id for m in traffic.inbound[:traffic.injected]]
    verdict.delivered = sum(1 for m in wanted if counts[m])
    verdict.lost_inbound = [m for m in wanted if not counts[m] and m not in quarantined]
    verdict.duplicate_activities = sum(counts[m] - 1 for m in wanted if counts[m] > 1)
    markers = Counter(found.group(0) for entry in journal
                      if (found := _MARKER.search(journal_headers(entry).get("subject", ""))))
    composed = list(traffic.email_ids)
    verdict.received_by_recipients = sum(1 for m in composed if markers[m])
    verdict.lost_sends = [m for m in composed if not markers[m]]
    verdict.duplicate_sends = sum(markers[m] - 1 for m in composed if markers[m] > 1)
    return verdict


def _quarantine(home: Home, verdict: Verdict) -> set[str]:
    """Fill ``verdict.quarantine``; return the message keys quarantined (they are not "lost")."""
    store = StateStore.open_home(home, SystemClock())
    try:
        entries = store.quarantine.entries()
    finally:
        store.close()
    verdict.quarantine = [{"mailbox": e.mailbox, "message": e.internet_message_id or e.message_key,
                           "stage": e.stage, "reason": f"{e.reason_code}: {e.reason}"} for e in entries]
    return {e.internet_message_id or e.message_key for e in entries}

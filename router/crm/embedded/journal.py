"""The embedded CRM's call journal: every CheckIncomingEmail and DeliverIncomingEmail it answered.

Dynamics' duplicate check makes a second DeliverIncomingEmail of a Message-ID return the existing
activity, so counting activities cannot show a router that delivers everything twice. The journal
can: one row per answered call, committed with the call's own transaction (a call that failed left
no trace in the CRM and leaves none here). ``audit_deliveries`` counts deliveries per Message-ID from
it, and tells each re-delivery that a crash explains (a kill between the first delivery and the next)
from one nothing explains — the latter is a bug.

The journal does not know which mailbox a call came through: a message sent to two served mailboxes is
delivered once per mailbox, and its second delivery shows as a re-delivery. Audits therefore send each
message to one served mailbox.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import Connection, select

from router.crm.embedded.schema import call_journal

_RESOLUTION = timedelta(seconds=1)

CHECK = "CheckIncomingEmail"
DELIVER = "DeliverIncomingEmail"


class Outcome(StrEnum):
    """What the CRM answered."""

    DELIVER = "deliver"
    """CheckIncomingEmail: the CRM wants the e-mail."""
    SKIP = "skip"
    """CheckIncomingEmail: the CRM does not want it."""
    CREATED = "created"
    """DeliverIncomingEmail: a new activity."""
    EXISTING = "existing"
    """DeliverIncomingEmail: the activity already tracked for this Message-ID (a re-delivery)."""


@dataclass(frozen=True)
class JournalEntry:
    """One answered call."""

    at: datetime
    operation: str
    message_id: str
    outcome: Outcome
    activity_id: str | None


def record(conn: Connection, at: datetime, operation: str, message_id: str, outcome: Outcome,
           activity_id: str | None = None) -> None:
    """Journal one call in the caller's transaction."""
    conn.execute(_INSERT, {"at": at, "operation": operation, "messageid": message_id,
                           "outcome": outcome.value, "activityid": activity_id})


_INSERT = call_journal.insert()


def entries(conn: Connection, operation: str | None = None) -> list[JournalEntry]:
    """Every journalled call (of ``operation``), oldest first."""
    c = call_journal.c
    query = select(c.at, c.operation, c.messageid, c.outcome, c.activityid).order_by(c.id)
    if operation is not None:
        query = query.where(c.operation == operation)
    return [JournalEntry(at, op, mid, Outcome(out), aid) for at, op, mid, out, aid in conn.execute(query)]


@dataclass(frozen=True)
class Redelivery:
    """A DeliverIncomingEmail after the first one for the same Message-ID, and the kill that explains it."""

    message_id: str
    at: datetime
    kill: datetime | None

    @property
    def excused(self) -> bool:
        return self.kill is not None


@dataclass
class DeliveryAudit:
    """Deliveries per Message-ID as the CRM received them."""

    delivered: dict[str, int] = field(default_factory=dict)
    """Message-ID (lower case) -> DeliverIncomingEmail calls that created an activity."""
    redeliveries: list[Redelivery] = field(default_factory=list)

    @property
    def duplicates(self) -> int:
        """Activities created beyond the first per Message-ID."""
        return sum(count - 1 for count in self.delivered.values() if count > 1)

    @property
    def unexplained(self) -> list[Redelivery]:
        """Re-deliveries no kill explains: the router delivered twice on its own."""
        return [r for r in self.redeliveries if not r.excused]

    def times_delivered(self, message_id: str) -> int:
        """DeliverIncomingEmail calls for ``message_id`` (any case), re-deliveries included."""
        key = message_id.lower()
        return self.delivered.get(key, 0) + sum(1 for r in self.redeliveries if r.message_id == key)


def audit_deliveries(journal: Iterable[JournalEntry], kills: Sequence[datetime] = ()) -> DeliveryAudit:
    """Count deliveries per Message-ID; a re-delivery is excused by a kill after the previous call."""
    audit = DeliveryAudit()
    previous: dict[str, datetime] = {}
    for entry in journal:
        if entry.operation != DELIVER:
            continue
        key = entry.message_id.lower()
        if entry.outcome is Outcome.CREATED:
            audit.delivered[key] = audit.delivered.get(key, 0) + 1
        else:
            since = previous.get(key)
            # Journal times have the CRM's one-second resolution: a call stamped second S happened
            # before S + 1 s.
            before = entry.at + _RESOLUTION
            kill = next((k for k in kills if (since is None or since <= k) and k < before), None)
            audit.redeliveries.append(Redelivery(key, entry.at, kill))
        previous[key] = entry.at
    return audit

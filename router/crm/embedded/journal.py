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
from router.state.fencing import LaneToken

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
    fence: LaneToken | None = None
    """The caller's lane and fencing token, when it sent one."""


def record(conn: Connection, at: datetime, operation: str, message_id: str, outcome: Outcome,
           activity_id: str | None = None, *, fence: LaneToken | None = None) -> None:
    """Journal one call in the caller's transaction."""
    conn.execute(_INSERT, entry(at, operation, message_id, outcome, activity_id, fence=fence))


def entry(at: datetime, operation: str, message_id: str, outcome: Outcome,
          activity_id: str | None = None, *, fence: LaneToken | None = None) -> dict[str, object]:
    """The journal row of one call, for ``record_many``."""
    return {"at": at, "operation": operation, "messageid": message_id, "outcome": outcome.value,
            "activityid": activity_id, "lane": None if fence is None else fence.lane,
            "token": None if fence is None else fence.token}


def record_many(conn: Connection, rows: Sequence[dict[str, object]]) -> None:
    """Journal several calls, in order, in one statement of the caller's transaction (a batch's calls:
    nothing reads the journal between them, so writing them together at its end changes nothing)."""
    if rows:
        conn.execute(_INSERT, list(rows))


_INSERT = call_journal.insert()


def entries(conn: Connection, operation: str | None = None) -> list[JournalEntry]:
    """Every journalled call (of ``operation``), oldest first."""
    c = call_journal.c
    query = select(c.at, c.operation, c.messageid, c.outcome, c.activityid, c.lane, c.token).order_by(c.id)
    if operation is not None:
        query = query.where(c.operation == operation)
    return [JournalEntry(at, op, mid, Outcome(out), aid,
                         None if lane is None or token is None else LaneToken(lane, token))
            for at, op, mid, out, aid, lane, token in conn.execute(query)]


@dataclass(frozen=True)
class Redelivery:
    """A DeliverIncomingEmail after the first one for the same Message-ID, and the kill that explains it."""

    message_id: str
    at: datetime
    kill: datetime | None
    cause: str = ""
    """Why it happened, when a kill or pause explains it."""
    kind: str = "unexplained"
    """``after-kill`` (a kill or pause after the previous delivery), ``hand-over`` (the lane changed
    hands after a kill or pause before the previous delivery was recorded) or ``unexplained``."""

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
    """Count deliveries per Message-ID; a re-delivery must be explained by ``kills`` (kills and pauses).

    A re-delivery is explained when the delivery before it could not be recorded by the router:

    * a kill (or pause) came after the previous call: the worker died between the CRM's commit and
      the ledger's record;
    * or both calls carried fencing tokens of the same lane and the previous one's is older, with a
      kill, pause or state database outage (all in ``kills``) before the re-delivery: the lane changed
      hands between the two calls because its holder was killed, paused or cut off its state database
      after its call reached the CRM (a paused process's call can be on the wire, or land the moment it
      wakes, after the pause began; a cut-off one cannot record it), and the new holder found the
      activity (Duplicate) and delivered again to learn it. A graceful hand-over never leaves a run in
      flight, so it cannot explain one.

    Any other re-delivery — the same token twice, or a newer token's delivery followed by an older
    one's (the CRM refuses those) — is the router delivering twice on its own.
    """
    audit = DeliveryAudit()
    previous: dict[str, JournalEntry] = {}
    for entry in journal:
        if entry.operation != DELIVER:
            continue
        key = entry.message_id.lower()
        if entry.outcome is Outcome.CREATED:
            audit.delivered[key] = audit.delivered.get(key, 0) + 1
        else:
            audit.redeliveries.append(_explain(key, entry, previous.get(key), kills))
        previous[key] = entry
    return audit


def _explain(key: str, entry: JournalEntry, earlier: JournalEntry | None,
             kills: Sequence[datetime]) -> Redelivery:
    since = None if earlier is None else earlier.at
    # Journal times have the CRM's one-second resolution: a call stamped second S happened before S + 1 s.
    before = entry.at + _RESOLUTION
    kill = next((k for k in kills if (since is None or since <= k) and k < before), None)
    if kill is not None:
        return Redelivery(key, entry.at, kill, "a kill or pause after the previous delivery", "after-kill")
    if (earlier is not None and earlier.fence is not None and entry.fence is not None
            and earlier.fence.lane == entry.fence.lane and earlier.fence.token < entry.fence.token):
        kill = next((k for k in reversed(kills) if k < before), None)
        if kill is not None:
            return Redelivery(key, entry.at, kill,
                              f"lane {entry.fence.lane} changed hands (token {earlier.fence.token} -> "
                              f"{entry.fence.token}) after a kill, pause or outage, before the delivery was "
                              "recorded",
                              "hand-over")
    return Redelivery(key, entry.at, None)

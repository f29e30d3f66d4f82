"""Traffic counts per mailbox ("messages in and out over the last hour"), derived from the ledger and
the send records rather than kept twice: a count can never disagree with the rows it counts.

In = delivered to the CRM (by delivery time); out = accepted by Exchange (by submission time).
Screened, quarantined and failed messages are counted by the time they reached that final stage.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Connection, Table, func, select

from router.clock import Clock
from router.state.engine import Database
from router.state.ledger import LedgerStage
from router.state.schema import incoming_ledger as L
from router.state.schema import outgoing_sends as S
from router.state.sends import SendStage


@dataclass(frozen=True)
class TrafficCounts:
    """What one mailbox did in a window of time."""

    mailbox: str
    delivered: int = 0
    screened: int = 0
    quarantined: int = 0
    sent: int = 0
    failed: int = 0

    @property
    def messages_in(self) -> int:
        """Incoming messages delivered to the CRM."""
        return self.delivered

    @property
    def messages_out(self) -> int:
        """Outgoing emails accepted by Exchange."""
        return self.sent


class Traffic:
    """Counts of messages per mailbox over a window of time."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    def last_hour(self) -> dict[str, TrafficCounts]:
        """Counts per mailbox over the last hour."""
        return self.since(self._clock.now() - timedelta(hours=1))

    def since(self, since: datetime) -> dict[str, TrafficCounts]:
        """Counts per mailbox from ``since`` until now; mailboxes with no traffic are left out."""
        queries: list[tuple[str, Table, ColumnElement[bool]]] = [
            ("delivered", L, L.c.delivered_at >= since),
            ("screened", L, (L.c.finished_at >= since) & (L.c.stage == LedgerStage.SCREENED.value)),
            ("quarantined", L, (L.c.finished_at >= since) & (L.c.stage == LedgerStage.QUARANTINED.value)),
            ("sent", S, S.c.submitted_at >= since),
            ("failed", S, (S.c.finished_at >= since) & (S.c.stage == SendStage.FAILED.value)),
        ]
        numbers: dict[str, dict[str, int]] = {}
        with self._db.read() as conn:
            for field, table, where in queries:
                for mailbox, number in _grouped(conn, table, where):
                    numbers.setdefault(mailbox, {})[field] = number
        return {mailbox: TrafficCounts(mailbox, **numbers[mailbox]) for mailbox in sorted(numbers)}

    def for_mailbox(self, mailbox: str, since: datetime) -> TrafficCounts:
        """Counts of one mailbox from ``since`` until now."""
        return self.since(since).get(mailbox) or TrafficCounts(mailbox)


def _grouped(conn: Connection, table: Table, where: ColumnElement[bool]) -> list[tuple[str, int]]:
    query = select(table.c.mailbox, func.count()).where(where).group_by(table.c.mailbox)
    return [(str(mailbox), int(number)) for mailbox, number in conn.execute(query)]

"""The backlog: unfinished messages per mailbox and direction, and whether it still moves.

A mailbox's backlog is its incoming messages claimed or delivered but not finished, and its outgoing
emails claimed, rendered or submitted but not finished. It *moves* while any of those rows changes
(``updated_at``); a backlog whose newest change is older than a threshold is stalled, which is what a
crashed claim waiting out its lease or a lane that stopped working looks like.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Table, func, select, type_coerce

from router.state.direction import Direction
from router.state.engine import Database
from router.state.ledger import _OPEN_VALUES as LEDGER_OPEN
from router.state.schema import UtcDateTime, incoming_ledger, outgoing_sends
from router.state.sends import _OPEN_VALUES as SENDS_OPEN

_SOURCES: tuple[tuple[Direction, Table, list[str]], ...] = (
    (Direction.INCOMING, incoming_ledger, LEDGER_OPEN),
    (Direction.OUTGOING, outgoing_sends, SENDS_OPEN),
)


@dataclass(frozen=True)
class Backlog:
    """The unfinished work of one mailbox direction."""

    mailbox: str
    direction: Direction
    unfinished: int
    oldest_at: datetime
    last_change_at: datetime

    def stalled_for(self, now: datetime) -> float:
        """Seconds since anything in this backlog last changed."""
        return max(0.0, (now - self.last_change_at).total_seconds())


def backlogs(db: Database) -> list[Backlog]:
    """Every mailbox direction with unfinished work, by mailbox then direction."""
    found: list[Backlog] = []
    with db.read() as conn:
        for direction, table, open_stages in _SOURCES:
            c = table.c
            # Typed aggregates, so SQLite's text timestamps come back as aware datetimes too.
            oldest, changed = (type_coerce(func.min(c.created_at), UtcDateTime()),
                               type_coerce(func.max(c.updated_at), UtcDateTime()))
            query = (select(c.mailbox, func.count(), oldest, changed)
                     .where(c.stage.in_(open_stages)).group_by(c.mailbox))
            for mailbox, count, oldest_at, changed_at in conn.execute(query):
                found.append(Backlog(mailbox, direction, int(count), oldest_at, changed_at))
    return sorted(found, key=lambda b: (b.mailbox, b.direction.value))


"""The mailbox list of the console: filter and page first, then read the details of one page only.

With 10,000 mailboxes the full `status` report (every directory and health row as objects, a backlog
count per mailbox) takes seconds, too slow for a page view. ``mailbox_page`` filters and sorts the
addresses with two narrow queries (address, status, stopped) on the state store's tables, then builds
the ``status_report`` rows of the ``per_page`` mailboxes shown, reading only their rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import select

from router.service.status_report import NOT_IN_DIRECTORY, DirectionStatus, MailboxStatus
from router.state import Direction as StateDirection
from router.state import DirectoryRow, HealthStatus, MailboxHealth, StateStore, TrafficCounts
from router.state.schema import mailbox_directory, mailbox_health

PER_PAGE = 50


class HealthFilter(StrEnum):
    """What the mailbox list can be narrowed to."""

    ANY = "any"
    FAILURE = "failure"
    STOPPED = "stopped"
    SUCCESS = "success"
    NOT_RUN = "not_run"


@dataclass(frozen=True)
class MailboxPage:
    """One page of the filtered mailbox list."""

    rows: tuple[MailboxStatus, ...]
    total: int
    page: int
    pages: int
    query: str
    health: HealthFilter


def mailbox_page(store: StateStore, *, query: str = "", health: HealthFilter = HealthFilter.ANY,
                 page: int = 1, per_page: int = PER_PAGE) -> MailboxPage:
    """The ``page``-th page (from 1) of mailboxes whose address contains ``query`` and match ``health``."""
    with store.db.read() as conn:
        listed = {str(m).lower() for (m,) in conn.execute(select(mailbox_directory.c.mailbox).distinct())}
        states: dict[str, list[tuple[str, bool]]] = {}
        for m, status, stopped in conn.execute(select(mailbox_health.c.mailbox, mailbox_health.c.status,
                                                      mailbox_health.c.stopped)):
            states.setdefault(str(m).lower(), []).append((str(status), bool(stopped)))
    needle = query.strip().lower()
    matching = [n for n in sorted(listed | set(states))
                if needle in n and _matches(states.get(n, []), health)]
    pages = max(1, -(-len(matching) // per_page))
    page = min(max(1, page), pages)
    shown = matching[(page - 1) * per_page: page * per_page]
    return MailboxPage(mailbox_rows(store, shown), len(matching), page, pages, query, health)


def _matches(states: list[tuple[str, bool]], wanted: HealthFilter) -> bool:
    if wanted is HealthFilter.ANY:
        return True
    if wanted is HealthFilter.STOPPED:
        return any(stopped for _, stopped in states)
    return wanted.value in ({status for status, _ in states} or {HealthStatus.NOT_RUN.value})


def mailbox_rows(store: StateStore, names: list[str]) -> tuple[MailboxStatus, ...]:
    """The status rows of ``names`` (lower case), as `email-router status` shows them, reading only their
    rows; a name the directory and the health table both do not know is left out."""
    if not names:
        return ()
    with store.db.read() as conn:
        directory = [DirectoryRow.from_row(r) for r in conn.execute(
            select(mailbox_directory).where(mailbox_directory.c.mailbox.in_(names)))]
        healths = [MailboxHealth.from_row(r) for r in conn.execute(
            select(mailbox_health).where(mailbox_health.c.mailbox.in_(names)))]
    traffic = store.traffic.last_hour()
    alerts = store.alerts.open_alerts()
    rows: dict[str, dict[StateDirection, DirectoryRow]] = {}
    for row in directory:
        rows.setdefault(row.mailbox.lower(), {})[row.direction] = row
    health = {(h.mailbox.lower(), h.direction): h for h in healths}
    result = []
    for name in (n for n in names if n in rows or any(h for h in health if h[0] == n)):
        mine, any_row = rows.get(name, {}), next(iter(rows.get(name, {}).values()), None)

        def direction(way: StateDirection, name: str = name, mine: dict[StateDirection, DirectoryRow] = mine
                      ) -> DirectionStatus:
            ledger = store.ledger if way is StateDirection.INCOMING else store.sends
            h = health.get((name, way)) or MailboxHealth(name, way)
            counts = traffic.get(name) or TrafficCounts(name)
            last_hour = counts.messages_in if way is StateDirection.INCOMING else counts.messages_out
            row, backlog = mine.get(way), ledger.unfinished_count(name)
            if row is None:
                return DirectionStatus(False, NOT_IN_DIRECTORY, None, h, backlog, last_hour)
            return DirectionStatus(row.served, row.reason, row.profile, h, backlog, last_hour)

        result.append(MailboxStatus(
            mailbox=any_row.mailbox if any_row else name, deployment=any_row.deployment if any_row else "",
            role=any_row.role if any_row else "", source=any_row.source if any_row else "",
            incoming=direction(StateDirection.INCOMING), outgoing=direction(StateDirection.OUTGOING),
            traffic=traffic.get(name) or TrafficCounts(name),
            alerts=tuple(a for a in alerts if a.mailbox.lower() == name)))
    return tuple(result)

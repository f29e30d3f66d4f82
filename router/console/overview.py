"""The mailbox list of the console: filter and page first, then read the details of one page only.

With 10,000 mailboxes the full `status` report (backlog per mailbox) is too slow for a page view, so
``mailbox_page`` reads the directory and health tables once to filter and sort every mailbox by
address, then builds ``status_report`` rows for the ``per_page`` mailboxes shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from router.service.status_report import MailboxStatus, collect_status
from router.state import HealthStatus, MailboxHealth, StateStore

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
    healths: dict[str, list[MailboxHealth]] = {}
    for h in store.health.all():
        healths.setdefault(h.mailbox.lower(), []).append(h)
    names = sorted({row.mailbox.lower() for row in store.directory.all()} | set(healths))
    needle = query.strip().lower()
    matching = [n for n in names if needle in n and _matches(healths.get(n, []), health)]
    pages = max(1, -(-len(matching) // per_page))
    page = min(max(1, page), pages)
    shown = tuple(matching[(page - 1) * per_page: page * per_page])
    rows = collect_status(store, shown).mailboxes if shown else ()
    return MailboxPage(rows, len(matching), page, pages, query, health)


def _matches(healths: list[MailboxHealth], wanted: HealthFilter) -> bool:
    if wanted is HealthFilter.ANY:
        return True
    if wanted is HealthFilter.STOPPED:
        return any(h.stopped for h in healths)
    statuses = {h.status for h in healths} or {HealthStatus.NOT_RUN}
    return HealthStatus(wanted.value) in statuses

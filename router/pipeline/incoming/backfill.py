"""Backfill: re-import a mailbox's mail from a date, idempotently.

A mailbox's process-from date keeps a newly connected mailbox from importing its history. To import a
window after all, ``schedule_backfill`` moves the date back and forgets the mailbox's sync states, so
the next run synchronises the folder from the start and offers every item received since the date.
Nothing is imported twice: the ledger recognises the messages it has finished, and the CRM's
duplicate check (by Message-ID) recognises the ones it holds from any mailbox.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from router.errors import UsageError
from router.state import StateStore


@dataclass(frozen=True)
class Backfill:
    """A scheduled backfill: the mailbox, the new and previous process-from dates, states forgotten."""

    mailbox: str
    since: datetime
    previous: datetime | None
    states_reset: int


def schedule_backfill(store: StateStore, mailbox: str, since: datetime) -> Backfill:
    """Make ``mailbox``'s next run import everything received since ``since`` (aware)."""
    if since.tzinfo is None:
        raise UsageError(f"the backfill date {since.isoformat()} has no time zone",
                         hint="give a date (UTC midnight) or a time with its offset, e.g. "
                              "2024-05-01T00:00:00Z")
    if since > store.clock.now():
        raise UsageError(f"the backfill date {since.isoformat()} is in the future",
                         hint="give the earliest date whose mail should be imported")
    key = mailbox.strip().lower()
    previous = store.sync.process_from(key)
    store.sync.set_process_from(key, since)
    return Backfill(key, since, previous, store.sync.reset(key))

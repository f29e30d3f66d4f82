"""The fate of every fetched item: what it came to, counted and logged so the counts add up.

Every item a lane fetches ends a run with exactly one fate::

    fetched = delivered + duplicate + screened + quarantined + deferred

* ``delivered`` — the CRM created an activity for it (or holds the one an interrupted attempt
  created: ``recovered``; or holds it and acknowledging was given up);
* ``duplicate`` — the CRM already held the message as activity X (another mailbox's copy, another
  item with the same Message-ID in this mailbox), or the ledger had already finished this item;
* ``screened`` — kept away from the CRM by screening or refused by CheckIncomingEmail;
* ``quarantined`` — kept aside for an admin with the reason;
* ``deferred`` — not finished in this run (failed alone and retried later, held by another worker,
  the run was cancelled): it comes back, fetched and counted again.

``count_fates`` feeds the service's metrics (``/metrics``), ``log_fates`` writes one line per screened
or quarantined item at log level 2 (INFO; WARNING for quarantines) naming the mailbox, the Message-ID,
the stage and the reason, so an admin reads why without opening the trail.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from router.runtime.metrics import Metrics

log = logging.getLogger("router.pipeline.incoming.decisions")

MAX_LOGGED = 500
"""Longest reason text logged for one item (the trail keeps the whole text)."""


class Fate(StrEnum):
    """The five ends of a fetched item in one run."""

    DELIVERED = "delivered"
    DUPLICATE = "duplicate"
    SCREENED = "screened"
    QUARANTINED = "quarantined"
    DEFERRED = "deferred"


_FATES = {
    "delivered": Fate.DELIVERED, "recovered": Fate.DELIVERED, "given-up": Fate.DELIVERED,
    "duplicate": Fate.DUPLICATE, "done": Fate.DUPLICATE,
    "screened": Fate.SCREENED, "refused": Fate.SCREENED,
    "quarantined": Fate.QUARANTINED,
    "deferred": Fate.DEFERRED, "busy": Fate.DEFERRED, "taken-over": Fate.DEFERRED,
}


def fate_of(result: str) -> Fate:
    """The fate of an outcome's ``result``; an unknown result is deferred (it comes back)."""
    return _FATES.get(result, Fate.DEFERRED)


class Told(Protocol):
    """What ``count_fates`` and ``log_fates`` read of an outcome."""

    @property
    def result(self) -> str: ...

    @property
    def reason(self) -> str | None: ...

    @property
    def detail(self) -> str | None: ...


def count_fates(metrics: Metrics, mailbox: str, outcomes: Iterable[tuple[datetime | None, Told]],
                now: datetime) -> None:
    """Count each outcome's fate (and the latency of newly delivered mail); ``datetime``: arrival."""
    for received, outcome in outcomes:
        fate = fate_of(outcome.result)
        if fate is Fate.DELIVERED:
            metrics.delivered(mailbox)
            if outcome.result == "delivered" and received is not None:
                metrics.incoming_latency((now - received).total_seconds())
        elif fate is Fate.DUPLICATE:
            metrics.duplicate(mailbox)
        elif fate is Fate.SCREENED:
            metrics.screened_out(mailbox, outcome.reason or outcome.result)
        elif fate is Fate.QUARANTINED:
            metrics.quarantined(mailbox, outcome.reason or "process")
        else:
            metrics.deferred(mailbox)


def log_fates(mailbox: str, outcomes: Iterable[tuple[str | None, Told]]) -> None:
    """One line per screened (INFO) or quarantined (WARNING) item; ``str``: its Message-ID."""
    for message_id, outcome in outcomes:
        fate = fate_of(outcome.result)
        if fate not in (Fate.SCREENED, Fate.QUARANTINED):
            continue
        level = logging.WARNING if fate is Fate.QUARANTINED else logging.INFO
        detail = outcome.detail or outcome.reason or outcome.result
        if len(detail) > MAX_LOGGED:
            detail = detail[:MAX_LOGGED - 1] + "…"
        log.log(level, "%s %s in %s at stage %s: %s", fate.value, message_id or "(no Message-ID)", mailbox,
                _stage(outcome), detail, extra={"mailbox": mailbox})


def _stage(outcome: Told) -> str:
    if outcome.result == "refused":
        return "deliver"
    return "screen" if outcome.result == "screened" else (outcome.reason or "process")

"""How a finished run is told in the log, at the level the legacy LogLevel expects.

LogLevel 2 ("mailbox level") shows runs that did work; LogLevel 3 also the idle polls; LogLevel 1
("errors") shows stopped lanes and failures that are not transient, while transient failures and
throttling are warnings (they are counted in the metrics, and become a stop when the policy escalates them).
"""

from __future__ import annotations

import logging

from router.errors import RouterError
from router.runtime.outcome import RunKind, RunReport

log = logging.getLogger("router.service.scheduler")


def log_report(report: RunReport) -> None:
    """Log one finished run."""
    key = report.key
    extra = {"mailbox": key.mailbox, "lane": str(key)}
    if report.superseded:
        log.info("lane %s: a run begun before the lane was reconfigured or removed ended (%s)", key,
                 report.kind.value, extra=extra)
    elif report.kind is RunKind.WORKED and report.result is not None:
        log.info("lane %s: %d processed, %d waiting (%.1f s)", key, report.result.processed,
                 report.result.waiting, report.elapsed, extra=extra)
    elif report.kind is RunKind.IDLE:
        log.debug("lane %s: nothing to do; next poll in %.0f s", key, report.next_run_in or 0.0, extra=extra)
    elif report.kind is RunKind.THROTTLED:
        log.warning("lane %s: the server asked to back off; its lanes wait %.0f s: %s", key,
                    report.next_run_in or 0.0, report.error, extra=extra)
    elif report.kind is RunKind.RETRY:
        unexpected = not isinstance(report.error, RouterError)
        expected = isinstance(report.error, RouterError) and report.error.transient
        log.log(logging.WARNING if expected else logging.ERROR,
                "lane %s: failure %d in a row, retrying in %.0f s: %s", key, report.consecutive_failures,
                report.next_run_in or 0.0, report.error, extra=extra,
                exc_info=report.error if unexpected else None)
    elif report.kind is RunKind.STOPPED:
        log.error("lane %s stopped until it is reconfigured or restarted: %s", key, report.error,
                  extra=extra)

"""Lane events into Prometheus series: backlog per lane, retries, and throttling honoured."""

from __future__ import annotations

from router.config.profile import Direction
from router.runtime.metrics import Direction as MetricsDirection
from router.runtime.metrics import Metrics
from router.runtime.outcome import RunKind, RunReport
from router.service.observer import NullObserver

_WAY: dict[Direction, MetricsDirection] = {Direction.INCOMING: "incoming", Direction.OUTGOING: "outgoing"}


class MetricsObserver(NullObserver):
    """Records each run in ``Metrics``; runs of lanes already removed or rebuilt are not recorded."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def run_finished(self, report: RunReport) -> None:
        if report.superseded:
            return
        mailbox, way = report.key.mailbox, _WAY[report.key.direction]
        if report.result is not None:
            self._metrics.set_backlog(mailbox, way, report.result.waiting)
        if report.kind is RunKind.THROTTLED:
            self._metrics.throttled(mailbox, way)
        elif report.kind is RunKind.RETRY:
            self._metrics.retried(mailbox, way)

"""Traffic per minute over the last hours, kept by the running service itself for the console's charts.

``MetricHistory`` samples the service's own ``Metrics`` registry every ``interval`` seconds on a daemon
thread and adds each counter's growth to the bucket of the current minute: messages delivered to the
CRM, emails sent, messages screened out and quarantined (all mailboxes together), and the mean
arrival -> CRM latency of the messages delivered in that minute (from the latency histogram's sum and
count). It keeps ``hours`` of buckets; nothing is written to disk and no external monitoring is needed
(Prometheus can still scrape ``/metrics`` for longer history).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from router.clock import Clock
from router.runtime.metrics import Metrics

COUNTERS = {
    "delivered": "email_router_messages_delivered_total",
    "sent": "email_router_sends_total",
    "screened": "email_router_messages_screened_out_total",
    "quarantined": "email_router_messages_quarantined_total",
}
LATENCY_SUM = "email_router_incoming_latency_seconds_sum"
LATENCY_COUNT = "email_router_incoming_latency_seconds_count"
SERIES = (*COUNTERS, "latency")


@dataclass
class _Minute:
    counts: dict[str, float] = field(default_factory=lambda: dict.fromkeys(COUNTERS, 0.0))
    latency_sum: float = 0.0
    latency_count: float = 0.0


class MetricHistory:
    """Per-minute totals of the service's counters for the last ``hours``; ``start``/``stop`` sampling."""

    def __init__(self, metrics: Metrics, clock: Clock, *, hours: float = 6.0, interval: float = 10.0) -> None:
        self._metrics = metrics
        self._clock = clock
        self._keep = int(hours * 60)
        self._interval = interval
        self._minutes: OrderedDict[int, _Minute] = OrderedDict()
        self._last: dict[str, float] | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Take a first sample and keep sampling on a daemon thread until ``stop``."""
        self.sample()
        self._thread = threading.Thread(target=self._loop, name="console-history", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop sampling and wait for the thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def sample(self) -> None:
        """Add the counters' growth since the previous sample to the current minute."""
        totals = self._totals()
        minute = int(self._clock.now().timestamp()) // 60 * 60
        with self._lock:
            previous, self._last = self._last, totals
            if previous is None:
                return
            bucket = self._minutes.setdefault(minute, _Minute())
            for name, metric in COUNTERS.items():
                bucket.counts[name] += max(0.0, totals[metric] - previous[metric])
            bucket.latency_sum += max(0.0, totals[LATENCY_SUM] - previous[LATENCY_SUM])
            bucket.latency_count += max(0.0, totals[LATENCY_COUNT] - previous[LATENCY_COUNT])
            while len(self._minutes) > self._keep:
                self._minutes.popitem(last=False)

    def series(self) -> dict[str, Any]:
        """Columns for the charts: ``t`` (Unix minute), one list per counter, ``latency`` (s or None)."""
        with self._lock:
            minutes = sorted(self._minutes.items())
        if minutes:
            first, last = minutes[0][0], minutes[-1][0]
            filled = dict(minutes)
            minutes = [(t, filled.get(t, _Minute())) for t in range(first, last + 60, 60)]
        data: dict[str, Any] = {"t": [t for t, _ in minutes]}
        for name in COUNTERS:
            data[name] = [m.counts[name] for _, m in minutes]
        data["latency"] = [round(m.latency_sum / m.latency_count, 3) if m.latency_count else None
                           for _, m in minutes]
        return data

    def _totals(self) -> dict[str, float]:
        wanted = {*COUNTERS.values(), LATENCY_SUM, LATENCY_COUNT}
        totals = dict.fromkeys(wanted, 0.0)
        # Only the collectors of these series: the whole registry holds several gauges per lane, and
        # collecting it every ``interval`` cost 10,000 mailboxes' idle router more than their sweeps.
        for family in self._metrics.registry.restricted_registry(wanted).collect():
            for sample in family.samples:
                if sample.name in wanted:
                    totals[sample.name] += float(sample.value)
        return totals

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            self.sample()

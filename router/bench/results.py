"""The benchmark's results: throughput, latency and scale figures, and the ratios between scenarios.

Each result knows its JSON form (``as_json``); ``report`` renders them as tables.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

from router.bench.measure import Sample


@dataclass(frozen=True)
class Throughput:
    """A throughput scenario's result: medians over its samples, per item and per second."""

    id: str
    group: str
    label: str
    title: str
    size: str
    samples: list[Sample] = field(default_factory=list)
    note: str = ""

    @property
    def items(self) -> int:
        return self.samples[0].items if self.samples else 0

    def _median(self, attribute: str) -> float:
        return float(statistics.median(getattr(s, attribute) / max(s.items, 1) for s in self.samples))

    @property
    def per_second(self) -> float:
        """Items per second of wall clock (median run)."""
        seconds = self._median("wall")
        return 1 / seconds if seconds else 0.0

    @property
    def client_us(self) -> float:
        """Client CPU microseconds per item."""
        return 1e6 * self._median("client_cpu")

    @property
    def server_us(self) -> float:
        """Simulator CPU microseconds per item."""
        return 1e6 * self._median("server_cpu")

    def as_json(self) -> dict[str, object]:
        return {
            "id": self.id, "group": self.group, "label": self.label, "title": self.title, "size": self.size,
            "items": self.items,
            "repeats": len(self.samples), "per_second": round(self.per_second, 1),
            "client_cpu_us_per_item": round(self.client_us, 1),
            "server_cpu_us_per_item": round(self.server_us, 1), "note": self.note,
            "samples": [{"items": s.items, "wall_s": round(s.wall, 4), "client_cpu_s": round(s.client_cpu, 4),
                         "server_cpu_s": round(s.server_cpu, 4)} for s in self.samples],
        }


@dataclass(frozen=True)
class Latency:
    """Seconds from a message's arrival in the mailbox to its activity in the CRM."""

    id: str
    title: str
    mode: str
    seconds: list[float] = field(default_factory=list)
    p50: float = 0.0
    p99: float = 0.0
    missing: int = 0
    """Messages not in the CRM by the deadline (counted at the deadline in the percentiles)."""

    def as_json(self) -> dict[str, object]:
        return {"id": self.id, "title": self.title, "mode": self.mode, "messages": len(self.seconds),
                "p50_s": round(self.p50, 3), "p99_s": round(self.p99, 3),
                "max_s": round(max(self.seconds, default=0.0), 3), "missing": self.missing}


@dataclass(frozen=True)
class Scale:
    """The router's CPU and resident memory while serving ``mailboxes`` idle mailboxes."""

    id: str
    mailboxes: int
    startup_s: float
    idle_cpu_percent: float
    rss_mib: float
    window_s: float
    simulator_cpu_percent: float = 0.0
    note: str = ""
    first_pass_s: float = 0.0
    crm_requests_per_minute: float = 0.0
    crm: str = "embedded"
    transport: str = "ews"
    """How the router reaches the idle mailboxes: "ews" (notifications, then a sweep every
    ``sweep_interval_seconds``) or "graph" (the delta poller's ``$batch``es of twenty mailboxes every
    ``graph_poll_seconds``, then the same sweep)."""
    streaming_connections: int = 0
    """EWS: the service account's streaming connections allowed (on the simulator and in the router's
    ``notification_streams``), 200 mailboxes each: 10 (Exchange's default) up to 2,000 mailboxes."""

    def as_json(self) -> dict[str, object]:
        return {"id": self.id, "mailboxes": self.mailboxes, "transport": self.transport,
                "startup_s": round(self.startup_s, 2),
                "idle_cpu_percent_of_one_core": round(self.idle_cpu_percent, 2),
                "simulator_cpu_percent_of_one_core": round(self.simulator_cpu_percent, 2),
                "rss_mib": round(self.rss_mib, 1), "window_s": round(self.window_s, 1), "note": self.note,
                "first_pass_s": round(self.first_pass_s, 1), "crm": self.crm,
                "crm_requests_per_minute": round(self.crm_requests_per_minute, 1),
                "streaming_connections": self.streaming_connections}


@dataclass(frozen=True)
class Ratio:
    """``numerator`` / ``denominator`` of two throughput scenarios' wall-clock rates."""

    title: str
    numerator: str
    denominator: str
    value: float

    def as_json(self) -> dict[str, object]:
        return {"title": self.title, "numerator": self.numerator, "denominator": self.denominator,
                "value": round(self.value, 2)}


def ratio(title: str, results: list[Throughput], numerator: str, denominator: str) -> Ratio | None:
    """The ratio of two scenarios' items/s, or None when either did not run."""
    found = {r.id: r for r in results}
    top, bottom = found.get(numerator), found.get(denominator)
    if top is None or bottom is None or not bottom.per_second:
        return None
    return Ratio(title, numerator, denominator, top.per_second / bottom.per_second)

"""The benchmark report: one JSON file and rich tables, with the machine it was measured on.

JSON shape (``BenchReport.as_json``)::

    {"machine": {"date", "cpu_model", "nproc", "os", "python", "exchangelib", ...},
     "settings": {...the counts used...},
     "throughput": [{"id", "group", "label", "title", "size", "items", "repeats", "per_second",
                     "client_cpu_us_per_item", "server_cpu_us_per_item", "note", "samples": [...]}],
     "latency": [{"id", "title", "mode", "messages", "p50_s", "p99_s", "max_s", "missing"}],
     "scale": [{"id", "mailboxes", "transport", "startup_s", "idle_cpu_percent_of_one_core",
                "simulator_cpu_percent_of_one_core", "rss_mib", "window_s", "note", "first_pass_s", "crm",
                "crm_requests_per_minute", "streaming_connections"}],
     "ratios": [{"title", "numerator", "denominator", "value"}]}
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.table import Table

from router.bench.results import Latency, Ratio, Scale, Throughput


@dataclass
class BenchReport:
    """Everything one benchmark run measured."""

    machine: dict[str, str | int]
    settings: dict[str, object]
    throughput: list[Throughput] = field(default_factory=list)
    latency: list[Latency] = field(default_factory=list)
    scale: list[Scale] = field(default_factory=list)
    ratios: list[Ratio] = field(default_factory=list)

    def as_json(self) -> dict[str, object]:
        return {"machine": self.machine, "settings": self.settings,
                "throughput": [t.as_json() for t in self.throughput],
                "latency": [x.as_json() for x in self.latency], "scale": [s.as_json() for s in self.scale],
                "ratios": [r.as_json() for r in self.ratios]}

    def write(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.as_json(), indent=2) + "\n", encoding="utf-8")
        return path

    def render(self, console: Console) -> None:
        """Print the tables (only those with rows) and the machine line."""
        m = self.machine
        console.print(f"[bold]email-router benchmark[/] {m['date']} · {m['cpu_model']} · "
                      f"nproc {m['nproc']} · {m['python']} · exchangelib {m['exchangelib']}")
        for table in (self._throughput(), self._latency(), self._scale(), self._ratios()):
            if table.row_count:
                console.print(table)

    def _throughput(self) -> Table:
        table = Table(title="Throughput (median of repeats; CPU per message)", title_justify="left")
        for name, justify in (("scenario", "left"), ("size", "left"), ("items", "right"), ("msg/s", "right"),
                              ("client CPU µs", "right"), ("simulator CPU µs", "right")):
            table.add_column(name, justify=justify)  # type: ignore[arg-type]
        for t in self.throughput:
            table.add_row(t.label, t.size, str(t.items), f"{t.per_second:,.0f}", f"{t.client_us:,.0f}",
                          f"{t.server_us:,.0f}")
        return table

    def _latency(self) -> Table:
        table = Table(title="Latency: arrival in the mailbox -> activity in the CRM", title_justify="left")
        for name in ("scenario", "messages", "p50 s", "p99 s", "max s", "missing"):
            table.add_column(name, justify="left" if name == "scenario" else "right")
        for x in self.latency:
            table.add_row(x.title, str(len(x.seconds)), f"{x.p50:.2f}", f"{x.p99:.2f}",
                          f"{max(x.seconds, default=0.0):.2f}", str(x.missing))
        return table

    def _scale(self) -> Table:
        table = Table(title="Scale: idle mailboxes", title_justify="left")
        for name in ("mailboxes", "transport", "CRM", "start-up s", "first pass s", "router CPU % of a core",
                     "resident MiB", "CRM requests/min", "simulator CPU % of a core", "window s"):
            table.add_column(name, justify="right")
        for s in self.scale:
            table.add_row(f"{s.mailboxes:,}", s.transport, s.crm, f"{s.startup_s:.1f}",
                          f"{s.first_pass_s:.0f}",
                          f"{s.idle_cpu_percent:.1f}", f"{s.rss_mib:.0f}", f"{s.crm_requests_per_minute:.0f}",
                          f"{s.simulator_cpu_percent:.1f}", f"{s.window_s:.0f}")
        return table

    def _ratios(self) -> Table:
        table = Table(title="Ratios (msg/s of one scenario over another, same run)", title_justify="left")
        table.add_column("comparison")
        table.add_column("ratio", justify="right")
        for r in self.ratios:
            table.add_row(r.title, f"{r.value:.2f}x")
        return table

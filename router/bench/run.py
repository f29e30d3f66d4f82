"""Run the benchmark's scenarios in order and collect them into one ``BenchReport``.

``BenchSettings.quick()`` is the smoke run (tiny counts, one repeat) that the test suite also uses; the
default counts keep the whole run within about five minutes on two cores.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from router.bench import pipeline
from router.bench.graph_transport import graph_transport_scenarios
from router.bench.instances import incoming_with_instances
from router.bench.machine import describe_machine
from router.bench.org import Accounts, bench_seed
from router.bench.report import BenchReport
from router.bench.results import Ratio, Throughput, ratio
from router.bench.transport import TransportBench, fill_mailboxes
from router.ews import perf
from router.harness.postgres import postgres_server
from router.harness.simprocess import SimulatorProcess

Progress = Callable[[str], None]

POLLING_ONLY = {"incoming": {"notification_streams": 0}}
"""Router settings for the polling-only latency run (no EWS streaming notifications)."""


@dataclass(frozen=True)
class BenchSettings:
    """How much each scenario does."""

    repeats: int = 3
    messages_8kb: int = 400
    messages_50kb: int = 150
    sends: int = 300
    router_mailboxes: int = 10
    router_per_mailbox_8kb: int = 40
    router_per_mailbox_50kb: int = 20
    router_sends: int = 300
    latency_messages: int = 40
    latency_interval: float = 0.25
    scale_mailboxes: tuple[int, ...] = (2000, 10000)
    graph_scale_mailboxes: tuple[int, ...] = (2000,)
    """Idle mailboxes over Microsoft Graph (the scale group; beside the EWS row of the same count)."""
    scale_warm_up: float = 10.0
    scale_window: float = 330.0
    scale_facade_mailboxes: tuple[int, ...] = (10000,)
    """Scale rows whose CRM is the Dynamics Web API facade over HTTP (CRM requests per minute at idle)."""
    latency_scale_mailboxes: int = 1000
    latency_scale_messages: int = 400
    latency_scale_interval: float = 0.05
    sizes: tuple[str, ...] = field(default=("8KB", "50KB"))
    graph: bool = True
    """Also run the router's incoming and outgoing rows over Microsoft Graph, beside the EWS ones."""
    instance_counts: tuple[int, ...] = (1, 2)
    instances_per_mailbox: int = 40
    only: frozenset[str] = frozenset()
    """The scenario groups to run (``GROUPS``); empty runs them all."""

    def runs(self, group: str) -> bool:
        """Whether ``group`` is part of this run."""
        return not self.only or group in self.only

    @classmethod
    def quick(cls) -> BenchSettings:
        """A smoke run: every scenario, tiny counts, one repeat (figures mean nothing)."""
        return cls(repeats=1, messages_8kb=20, messages_50kb=10, sends=10, router_mailboxes=2,
                   router_per_mailbox_8kb=5, router_per_mailbox_50kb=3, router_sends=6, latency_messages=4,
                   latency_interval=0.1, scale_mailboxes=(50,), graph_scale_mailboxes=(50,),
                   scale_warm_up=2.0, scale_window=2.0, scale_facade_mailboxes=(50,),
                   latency_scale_mailboxes=20, latency_scale_messages=10, latency_scale_interval=0.05,
                   instances_per_mailbox=5)

    def as_json(self) -> dict[str, object]:
        return {**asdict(self), "only": sorted(self.only)}


GROUPS = ("transport", "incoming", "outgoing", "graph", "instances", "latency", "scale")
"""Scenario groups ``scripts/bench --only`` selects: the simulator-only ceilings and script, the router's
EWS incoming and outgoing rows, its Graph rows, 1 vs 2 instances, the latency rows, the idle-scale rows.
A ratio is printed only when both of its rows ran."""


RATIOS = [
    ("router incoming vs the hand-written script, 8 KB", "router-incoming-8KB", "naive-8KB"),
    ("router incoming vs the hand-written script, 50 KB", "router-incoming-50KB", "naive-50KB"),
    ("router incoming vs exchangelib's fetch ceiling (stock), 8 KB", "router-incoming-8KB",
     "ceiling-8KB-stock"),
    ("router incoming vs exchangelib's fetch ceiling (perf), 8 KB", "router-incoming-8KB",
     "ceiling-8KB-patched"),
    ("router incoming vs exchangelib's fetch ceiling (stock), 50 KB", "router-incoming-50KB",
     "ceiling-50KB-stock"),
    ("router incoming vs exchangelib's fetch ceiling (perf), 50 KB", "router-incoming-50KB",
     "ceiling-50KB-patched"),
    ("exchangelib batched fetch (stock) vs the hand-written script, 8 KB", "ceiling-8KB-stock", "naive-8KB"),
    ("exchangelib batched fetch (stock) vs the hand-written script, 50 KB", "ceiling-50KB-stock",
     "naive-50KB"),
    ("router.ews.perf vs stock exchangelib, batched fetch 8 KB", "ceiling-8KB-patched", "ceiling-8KB-stock"),
    ("router.ews.perf vs stock exchangelib, batched fetch 50 KB", "ceiling-50KB-patched",
     "ceiling-50KB-stock"),
    ("router outgoing vs exchangelib's send ceiling", "router-outgoing", "sends"),
    ("router incoming over Graph vs over EWS, 8 KB", "router-incoming-8KB-graph", "router-incoming-8KB"),
    ("router incoming over Graph vs over EWS, 50 KB", "router-incoming-50KB-graph", "router-incoming-50KB"),
    ("router outgoing over Graph vs over EWS", "router-outgoing-graph", "router-outgoing"),
    ("router incoming over Graph vs the hand-written script over Graph, 8 KB", "router-incoming-8KB-graph",
     "naive-8KB-graph"),
    ("router incoming over Graph vs the hand-written script over Graph, 50 KB", "router-incoming-50KB-graph",
     "naive-50KB-graph"),
    ("Graph batched fetch (requests) vs the hand-written script over Graph, 8 KB", "ceiling-8KB-graph",
     "naive-8KB-graph"),
    ("Graph batched fetch (requests) vs the hand-written script over Graph, 50 KB", "ceiling-50KB-graph",
     "naive-50KB-graph"),
    ("router incoming over Graph vs the Graph fetch ceiling (requests, stock), 8 KB",
     "router-incoming-8KB-graph", "ceiling-8KB-graph"),
    ("router incoming over Graph vs the Graph fetch ceiling (requests, stock), 50 KB",
     "router-incoming-50KB-graph", "ceiling-50KB-graph"),
    ("router outgoing over Graph vs the Graph send ceiling (requests, stock)", "router-outgoing-graph",
     "sends-graph"),
    ("two router instances vs one, sharing PostgreSQL, incoming 8 KB", "router-incoming-pg-2",
     "router-incoming-pg-1"),
]


def transport_scenarios(settings: BenchSettings, workdir: Path, progress: Progress) -> list[Throughput]:
    """The scenarios that need only the simulator: naive script, exchangelib ceilings, sends."""
    counts = {"8KB": settings.messages_8kb, "50KB": settings.messages_50kb}
    with SimulatorProcess(workdir / "transport", bench_seed(list(counts))) as sim, Accounts(sim) as accounts:
        for size, count in counts.items():
            progress(f"filling the {size} mailbox with {count} messages")
            fill_mailboxes(sim, count, [size])
        bench = TransportBench(sim, accounts, settings.repeats)
        results: list[Throughput] = []
        for size in counts:
            progress(f"hand-written script, {size}")
            results.append(bench.naive(size))
            for patched in (False, True):
                progress(f"batched fetch, {'router.ews.perf' if patched else 'stock'}, {size}")
                results.append(bench.ceiling(size, patched=patched))
        progress(f"sends ({settings.sends})")
        results.append(bench.sends(settings.sends))
        return results


def router_scenarios(settings: BenchSettings, workdir: Path, progress: Progress, report: BenchReport) -> None:
    """The router's own scenarios, each with a fresh simulator and home: throughput, latency, scale."""
    s = settings
    per_mailbox = {"8KB": s.router_per_mailbox_8kb, "50KB": s.router_per_mailbox_50kb}
    if s.runs("incoming"):
        for size in s.sizes:
            report.throughput.append(pipeline.incoming(workdir / f"in-{size}", s.router_mailboxes,
                                                       per_mailbox[size], size, s.repeats, progress))
    if s.runs("outgoing"):
        report.throughput.append(pipeline.outgoing(workdir / "out", s.router_mailboxes, s.router_sends,
                                                   s.repeats, progress))
    if s.graph and s.runs("graph"):
        counts = {"8KB": s.messages_8kb, "50KB": s.messages_50kb}
        report.throughput.extend(graph_transport_scenarios(workdir, {size: counts[size] for size in s.sizes},
                                                           s.sends, s.repeats, progress))
        for size in s.sizes:
            report.throughput.append(pipeline.incoming(workdir / f"in-{size}-graph", s.router_mailboxes,
                                                       per_mailbox[size], size, s.repeats, progress,
                                                       graph=True))
        report.throughput.append(pipeline.outgoing(workdir / "out-graph", s.router_mailboxes, s.router_sends,
                                                   s.repeats, progress, graph=True))
    if s.runs("instances"):
        with postgres_server(None, workdir / "pg") as databases:
            for count in s.instance_counts:
                report.throughput.append(incoming_with_instances(
                    workdir / f"pg-{count}", databases, count, s.router_mailboxes, s.instances_per_mailbox,
                    s.repeats, progress))
    if s.runs("latency"):
        latency_scenarios(s, workdir, progress, report)
    if s.runs("scale"):
        for count in s.scale_mailboxes:
            report.scale.append(pipeline.scale(workdir / f"scale-{count}", count, s.scale_warm_up,
                                               s.scale_window, progress))
        for count in s.graph_scale_mailboxes:
            report.scale.append(pipeline.scale(workdir / f"scale-{count}-graph", count, s.scale_warm_up,
                                               s.scale_window, progress, graph=True))
        for count in s.scale_facade_mailboxes:
            report.scale.append(pipeline.scale(workdir / f"scale-{count}-facade", count, s.scale_warm_up,
                                               s.scale_window, progress, crm=pipeline.DYNAMICS_FACADE))


def latency_scenarios(s: BenchSettings, workdir: Path, progress: Progress, report: BenchReport) -> None:
    """Arrival to CRM activity: notifications and polling on a few mailboxes, then across many."""
    for mode, extra in (("notifications", {}), ("polling only", POLLING_ONLY)):
        report.latency.append(pipeline.latency(workdir / f"lat-{mode.split()[0]}", mode, extra,
                                               s.router_mailboxes, s.latency_messages, s.latency_interval,
                                               progress))
    report.latency.append(pipeline.latency(workdir / "lat-scale", "notifications", {},
                                           s.latency_scale_mailboxes, s.latency_scale_messages,
                                           s.latency_scale_interval, progress, at_scale=True))


def run_bench(settings: BenchSettings, progress: Progress, workdir: Path | None = None) -> BenchReport:
    """Run every scenario and return the report (nothing is left running)."""
    report = BenchReport(describe_machine(), settings.as_json())
    # The transport scenarios switch exchangelib between stock and overridden parsing; whoever called
    # us gets back the state they had.
    had_override = perf.is_installed()
    try:
        with tempfile.TemporaryDirectory(prefix="email-router-bench-") as tmp:
            base = workdir or Path(tmp)
            if settings.runs("transport"):
                report.throughput.extend(transport_scenarios(settings, base, progress))
            router_scenarios(settings, base, progress, report)
    finally:
        if had_override:
            perf.install()
        else:
            perf.uninstall()
    report.ratios.extend(r for r in (ratio(t, report.throughput, a, b) for t, a, b in RATIOS)
                         if isinstance(r, Ratio))
    return report

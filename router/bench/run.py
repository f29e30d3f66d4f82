"""Run the benchmark's scenarios in order and collect them into one ``BenchReport``.

``BenchSettings.quick()`` is the smoke run (tiny counts, one repeat) that the test suite also uses; the
default counts keep the whole run within about five minutes on two cores.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from router.bench.machine import describe_machine
from router.bench.org import Accounts, bench_seed
from router.bench.report import BenchReport
from router.bench.results import Ratio, Throughput, ratio
from router.bench.transport import TransportBench, fill_mailboxes
from router.ews import perf
from router.harness.simprocess import SimulatorProcess

Progress = Callable[[str], None]


@dataclass(frozen=True)
class BenchSettings:
    """How much each scenario does."""

    repeats: int = 3
    messages_8kb: int = 600
    messages_50kb: int = 200
    sends: int = 300

    @classmethod
    def quick(cls) -> BenchSettings:
        """A smoke run: every scenario, tiny counts, one repeat (figures mean nothing)."""
        return cls(repeats=1, messages_8kb=20, messages_50kb=10, sends=10)

    def as_json(self) -> dict[str, object]:
        return asdict(self)


RATIOS = [
    ("exchangelib batched fetch (stock) vs the hand-written script, 8 KB", "ceiling-8KB-stock", "naive-8KB"),
    ("exchangelib batched fetch (stock) vs the hand-written script, 50 KB", "ceiling-50KB-stock",
     "naive-50KB"),
    ("router.ews.perf vs stock exchangelib, batched fetch 8 KB", "ceiling-8KB-patched", "ceiling-8KB-stock"),
    ("router.ews.perf vs stock exchangelib, batched fetch 50 KB", "ceiling-50KB-patched",
     "ceiling-50KB-stock"),
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


def run_bench(settings: BenchSettings, progress: Progress, workdir: Path | None = None) -> BenchReport:
    """Run every scenario and return the report (nothing is left running)."""
    report = BenchReport(describe_machine(), settings.as_json())
    # The transport scenarios switch exchangelib between stock and overridden parsing; whoever called
    # us gets back the state they had.
    had_override = perf.is_installed()
    try:
        with tempfile.TemporaryDirectory(prefix="email-router-bench-") as tmp:
            base = workdir or Path(tmp)
            report.throughput.extend(transport_scenarios(settings, base, progress))
    finally:
        if had_override:
            perf.install()
        else:
            perf.uninstall()
    report.ratios.extend(r for r in (ratio(t, report.throughput, a, b) for t, a, b in RATIOS)
                         if isinstance(r, Ratio))
    return report

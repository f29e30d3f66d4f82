"""`scripts/bench` (``python -m router.bench``): run the scenarios, print the tables, write the JSON."""

from __future__ import annotations

import os
import sys
import time
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import click
from rich.console import Console

from router.bench.run import GROUPS, BenchSettings, run_bench
from router.errors import RouterError


def default_output() -> Path:
    """``$XDG_CACHE_HOME/email-router/bench/bench-<time>.json`` (``~/.cache`` when unset)."""
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "email-router" / "bench" / f"bench-{datetime.now():%Y%m%d-%H%M%S}.json"


@click.command()
@click.option("--quick", is_flag=True,
              help="Smoke run: every scenario with tiny counts (figures mean nothing).")
@click.option("--repeats", type=click.IntRange(1, 20), default=None,
              help="Timed runs per scenario (default 3).")
@click.option("--only", "only", multiple=True, type=click.Choice(GROUPS),
              help="Run only this group of scenarios (repeatable); ratios need both of their rows.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), default=None,
              help="Where to write the JSON report (default: under ~/.cache/email-router/bench/).")
def bench_command(quick: bool, repeats: int | None, only: tuple[str, ...], json_path: str | None) -> None:
    """Measure the router's throughput against the EWS simulator and print the figures."""
    # Tables stay readable when the output is a file or a pipe (rich assumes 80 columns there).
    console = Console() if sys.stdout.isatty() else Console(width=120)
    settings = BenchSettings.quick() if quick else BenchSettings()
    if repeats is not None:
        settings = replace(settings, repeats=repeats)
    settings = replace(settings, only=frozenset(only))
    try:
        started = time.monotonic()
        report = run_bench(settings, lambda text: console.print(
            f"[dim]{time.monotonic() - started:6.1f} s · {text}[/]"))
    except RouterError as exc:
        console.print(f"[red]benchmark failed:[/] {exc}")
        sys.exit(exc.exit_code)
    report.render(console)
    path = report.write(Path(json_path) if json_path else default_output())
    console.print(f"JSON report: {path}")


def main() -> None:
    bench_command.main(prog_name="scripts/bench")

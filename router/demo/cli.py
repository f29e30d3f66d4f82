"""`scripts/demo` (``python -m router.demo``): run the demo, narrate it, end with the two tables."""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

import click
from rich.console import Console

from router.demo.story import run_demo
from router.demo.views import landed_table, seen_table
from router.errors import RouterError


@click.command()
@click.option("--keep", is_flag=True, help="Keep the work directory (homes, logs) and print where it is.")
def demo_command(keep: bool) -> None:
    """Show the router's main job end to end against the EWS simulator and the embedded CRM."""
    console = Console() if sys.stdout.isatty() else Console(width=170)
    workdir = Path(tempfile.mkdtemp(prefix="email-router-demo-"))
    started = time.monotonic()
    try:
        result = run_demo(workdir, console.print)
    except RouterError as exc:
        console.print(f"[red]demo failed:[/] {exc}")
        sys.exit(exc.exit_code)
    finally:
        if keep:
            console.print(f"work directory kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    console.print(landed_table(result.landed))
    console.print(seen_table(result.seen))
    console.print(f"Demo finished in {time.monotonic() - started:.0f} s (the story itself took "
                  f"{result.seconds:.0f} s); nothing is left running.")


def main() -> None:
    demo_command.main(prog_name="scripts/demo")

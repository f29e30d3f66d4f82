"""`email-router backfill MAILBOX --since DATE`: import a mailbox's mail received since DATE.

Moves the mailbox's process-from date back and restarts its synchronisation; messages already
processed are recognised by the ledger and the CRM, so a backfill can be run again safely. By default
the mailbox's lane runs here until it is done; ``--no-run`` leaves the work to the running service.
"""

from __future__ import annotations

from datetime import UTC, datetime

import click

from router.cli.context import AppContext, pass_app
from router.clock import SystemClock
from router.config import load_published
from router.errors import UsageError
from router.pipeline.incoming.backfill import schedule_backfill
from router.runtime.metrics import Metrics
from router.runtime.resources import Resources
from router.runtime.state_location import open_configured_store
from router.service.drain import assignment_of, drain_home


def parse_since(text: str) -> datetime:
    """A date (``2024-05-01``, UTC midnight) or a time with offset (``2024-05-01T08:00:00+02:00``)."""
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise UsageError(f"--since {text!r} is not a date",
                         hint="write 2024-05-01, or 2024-05-01T08:00:00+02:00") from exc
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


@click.command("backfill", short_help="Import a mailbox's mail received since a date.")
@click.argument("mailbox")
@click.option("--since", "since_text", required=True, metavar="DATE",
              help="Earliest receive date to import: 2024-05-01 (UTC) or an ISO time with offset.")
@click.option("--run/--no-run", default=True, show_default=True,
              help="Run the mailbox's lane here until done, or leave it to the running service.")
@pass_app
def backfill_command(app: AppContext, mailbox: str, since_text: str, run: bool) -> None:
    """Re-import MAILBOX's mail received since --since; safe to repeat."""
    since = parse_since(since_text)
    with Resources(app.home, SystemClock(), Metrics()) as resources:
        assignment = assignment_of(resources, load_published(app.home), mailbox)
    with open_configured_store(app.home, SystemClock()) as store:
        done = schedule_backfill(store, assignment.address, since)
    before = done.previous.isoformat(timespec="seconds") if done.previous else "not set"
    click.echo(f"{done.mailbox}: process-from date {since.isoformat(timespec='seconds')} (was {before}); "
               "synchronisation restarts from the beginning")
    if not run:
        click.echo("the service imports the window at the mailbox's next run")
        return
    report = drain_home(app.home, done.mailbox)
    click.echo(f"{done.mailbox}: {report.processed} message(s) processed in {report.runs} run(s), "
               f"{report.wall_seconds:.1f} s; see `email-router trace` for any message")

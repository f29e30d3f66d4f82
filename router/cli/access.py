"""`email-router test-access`: the legacy Test Access and server-side sync's Test & Enable.

Runs against the newest published configuration and the CRM's Load Data, shows a progress bar while
mailboxes are tested and a results table at the end (or JSON with ``--json``), and exits 6 when any
mailbox failed.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from router.cli.context import AppContext, pass_app
from router.clock import SystemClock
from router.crm.codes import MailboxTestStatus
from router.errors import TransportError
from router.ews import perf
from router.runtime.metrics import Metrics
from router.runtime.resources import Resources
from router.service.access import Check
from router.service.access_run import AccessOptions, AccessReport, AccessRun
from router.service.service import load_running_config

STYLE = {MailboxTestStatus.SUCCESS: "green", MailboxTestStatus.FAILURE: "red",
         MailboxTestStatus.NOT_RUN: "dim"}
LABEL = {MailboxTestStatus.SUCCESS: "Success", MailboxTestStatus.FAILURE: "Failure",
         MailboxTestStatus.NOT_RUN: "Not Run"}


@click.command("test-access", short_help="Test that the router can reach mailboxes (Test Access).")
@click.option("--mailbox", "-m", "mailboxes", multiple=True, metavar="ADDRESS",
              help="Test only this mailbox (repeat for several); default: every mailbox.")
@click.option("--probe", is_flag=True,
              help="Also send a probe message from each mailbox to itself and wait for it in the Inbox.")
@click.option("--probe-timeout", type=click.FloatRange(min=1), default=60.0, show_default=True,
              help="Seconds to wait for each probe (the round trip, and the send-right probe).")
@click.option("--record/--no-record", default=True, show_default=True,
              help="Write the results to the CRM's mailbox records (status and enablement) and resume "
              "stopped mailboxes that pass.")
@click.option("--parallel", type=click.IntRange(1, 64), default=4, show_default=True,
              help="Mailboxes tested at once.")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON instead of a table.")
@pass_app
def test_access_command(app: AppContext, mailboxes: tuple[str, ...], probe: bool, probe_timeout: float,
                        record: bool, parallel: int, as_json: bool) -> None:
    """Test incoming (sign in, open the Inbox) and outgoing (Send As / Send On Behalf) access.

    Uses the newest published configuration and the mailboxes the CRM's Load Data lists. For Send As and
    delegate profiles the outgoing test submits a small probe From the user To the service account's own
    mailbox to learn which right the account holds, then deletes it. Exits 6 when any mailbox fails.
    """
    config = load_running_config(app.home)
    perf.install()
    options = AccessOptions(mailboxes, probe, probe_timeout, record, parallel)
    clock = SystemClock()
    resources = Resources(app.home, clock, Metrics())
    try:
        run = AccessRun(config, resources)
        view = run.directory()
        for problem in view.crm_errors.values():
            click.echo(f"warning: {problem}; results cannot be recorded in that CRM", err=True)
        targets = run.targets(view, mailboxes)
        with _progress(len(targets), quiet=as_json) as advance:
            reports = run.run(targets, options, advance)
    finally:
        resources.close()
    if as_json:
        click.echo(json.dumps([report_json(r) for r in reports], indent=2))
    else:
        _table(Console(highlight=False), reports, config.version)
    failed = [r.mailbox for r in reports if r.failed]
    if failed:
        click.echo(f"{len(failed)} of {len(reports)} mailbox(es) failed: {', '.join(failed)}", err=True)
        sys.exit(TransportError.exit_code)


@contextmanager
def _progress(total: int, *, quiet: bool) -> Iterator[Any]:
    """A progress bar on stderr while mailboxes are tested; yields the per-report callback."""
    console = Console(stderr=True, highlight=False)
    progress = Progress(TextColumn("testing mailboxes"), BarColumn(), MofNCompleteColumn(),
                        TimeElapsedColumn(), TextColumn("{task.description}"), console=console,
                        transient=True, disable=quiet or total < 2)
    with progress:
        task = progress.add_task("", total=total)

        def advance(report: AccessReport) -> None:
            progress.update(task, advance=1, description=report.mailbox)

        yield advance


def _table(console: Console, reports: list[AccessReport], version: int) -> None:
    table = Table(title=f"Test Access (published version {version})", title_justify="left", show_lines=True)
    for column in ("Mailbox", "Incoming", "Outgoing", "Probe", "CRM"):
        table.add_column(column, overflow="fold")
    for report in reports:
        table.add_row(Text(f"{report.mailbox}\n{report.role}, {report.deployment}"),
                      _cell(report.incoming), _cell(report.outgoing), _probe_cell(report),
                      Text(_crm_cell(report), style="dim"))
    console.print(table)
    console.print(Text(summary(reports)))


def summary(reports: list[AccessReport]) -> str:
    """``N of M mailbox(es) passed.``, naming how many were not tested at all (they did not pass)."""
    passed = sum(1 for r in reports if r.passed)
    untested = [r.mailbox for r in reports if not r.tested]
    note = f" {len(untested)} not tested: {', '.join(untested)}." if untested else ""
    return f"{passed} of {len(reports)} mailbox(es) passed.{note}"


def _cell(check: Check) -> Text:
    text = Text(LABEL[check.status], style=f"bold {STYLE[check.status]}")
    text.append(f" - {check.message}")
    if check.hint and check.failed:
        text.append(f"\nwhat to do: {check.hint}", style="yellow")
    return text


def _probe_cell(report: AccessReport) -> Text:
    if report.probe is None:
        return Text(report.probe_note or "-", style="red" if report.failed and report.probe_note else "dim")
    style = "green" if report.probe.arrived else "red"
    return Text(report.probe.message, style=style)


def _crm_cell(report: AccessReport) -> str:
    resumed = ", ".join(d.value for d in report.resumed)
    return report.recorded + (f"; resumed {resumed}" if resumed else "")


def report_json(report: AccessReport) -> dict[str, object]:
    """One mailbox's results as a JSON object (the ``--json`` output)."""
    return {
        "mailbox": report.mailbox, "deployment": report.deployment, "role": report.role,
        "failed": report.failed, "tested": report.tested, "passed": report.passed,
        "incoming": _check_json(report.incoming), "outgoing": _check_json(report.outgoing),
        "probe": None if report.probe is None else {
            "arrived": report.probe.arrived, "seconds": round(report.probe.seconds, 3),
            "right": report.probe.right.value if report.probe.right else None},
        "probe_note": report.probe_note, "crm": report.recorded,
        "resumed": [d.value for d in report.resumed],
    }


def _check_json(check: Check) -> dict[str, object]:
    return {"status": LABEL[check.status], "message": check.message, "hint": check.hint,
            "right": check.right.value if check.right else None,
            "expected": check.expected.value if check.expected else None}

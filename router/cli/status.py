"""`email-router status`: every mailbox's status and the open alerts, from the state store.

Works whether or not the service runs (it reads what the service recorded). A rich table for people;
``--json`` for scripts (see ``router.service.status_report`` for the document).
"""

from __future__ import annotations

import json
from datetime import datetime

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from router.cli.context import AppContext, pass_app
from router.cli.homes import open_existing_store
from router.config.settings import SystemSettings
from router.runtime.state_location import latest_config
from router.service.instances_report import InstancesReport, InstanceStatus, collect_instances
from router.service.status_report import DirectionStatus, StatusReport, collect_status
from router.state import Direction, HealthStatus

STYLE = {HealthStatus.SUCCESS: "green", HealthStatus.FAILURE: "red", HealthStatus.NOT_RUN: "dim"}
LABEL = {HealthStatus.SUCCESS: "Success", HealthStatus.FAILURE: "Failure", HealthStatus.NOT_RUN: "Not Run"}


@click.command("status", short_help="Show each mailbox's status and the open alerts.")
@click.option("--mailbox", "-m", "mailboxes", multiple=True, metavar="ADDRESS",
              help="Show only this mailbox (repeat for several).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON document instead of tables.")
@pass_app
def status_command(app: AppContext, mailboxes: tuple[str, ...], as_json: bool) -> None:
    """Per mailbox and direction: served or why not, status, last success, last error, backlog and the
    messages of the last hour; then the open alerts. Reads the state store; no service needs to run."""
    config = latest_config(app.home) if app.home.root.is_dir() else None
    lease = (config.profiles.settings if config is not None else SystemSettings()).lease_seconds
    with open_existing_store(app.home) as store:
        report = collect_status(store, mailboxes)
        running = collect_instances(store, lease)
    if as_json:
        click.echo(json.dumps({**report.to_json(), **running.to_json()}, indent=2))
        return
    console = Console(highlight=False)
    _header(console, report)
    if running.instances:
        console.print(_instances(running))
    if report.mailboxes:
        console.print(_mailboxes(report))
    if running.backlogs:
        console.print(_backlogs(running))
    if report.alerts:
        console.print(_alerts(report))
    else:
        console.print(Text("No open alerts.", style="green"))


def _header(console: Console, report: StatusReport) -> None:
    if report.config_version is None:
        console.print(Text("The service has not resolved its mailboxes yet (start it with "
                           "`email-router run`).", style="yellow"))
        return
    console.print(Text(f"Configuration version {report.config_version}; mailboxes last resolved "
                       f"{_when(report.directory_refreshed_at, report.generated_at)}."))


def _mailboxes(report: StatusReport) -> Table:
    table = Table(title="Mailboxes", title_justify="left")
    for column in ("Mailbox", "Direction", "Status", "Last success", "Last error", "Backlog", "Last hour"):
        table.add_column(column, overflow="fold", no_wrap=column in ("Direction", "Backlog", "Last hour"))
    for mailbox in report.mailboxes:
        for way in (Direction.INCOMING, Direction.OUTGOING):
            state = mailbox.direction(way)
            name = Text(mailbox.mailbox) if way is Direction.INCOMING else Text("")
            if way is Direction.INCOMING and mailbox.role:
                name.append(f"\n{mailbox.role}, {mailbox.deployment}", style="dim")
            count = "in" if way is Direction.INCOMING else "out"
            table.add_row(name, way.value, _status(state, report.generated_at),
                          _when(state.health.last_success_at, report.generated_at), _error(state, report),
                          str(state.backlog), f"{state.last_hour} {count}")
    return table


def _instances(running: InstancesReport) -> Table:
    table = Table(title="Router instances", title_justify="left")
    shared = any(item.lanes for item in running.instances)
    lanes = ["Lanes (held for)"] if shared else []
    for column in ("Instance", "State", "Host", "Pid", "Started", "Heartbeat", *lanes):
        table.add_column(column, overflow="fold")
    style = {"running": "green", "stopped": "dim", "silent": "bold red"}
    for item in running.instances:
        row = item.row
        cells: list[str | Text] = [row.instance, Text(item.state, style=style[item.state]), row.host,
                                   str(row.pid), _when(row.started_at, running.generated_at),
                                   f"{item.heartbeat_age:.0f} s ago"]
        table.add_row(*cells, *([_lanes(item)] * shared))
    return table


def _lanes(item: InstanceStatus) -> str:
    """The lanes an instance holds with the age of each lease (at most ten, then a count)."""
    if not item.lanes:
        return "-"
    shown = [f"{lane.mailbox}/{lane.direction} {lane.held_seconds:.0f} s" for lane in item.lanes[:10]]
    more = len(item.lanes) - len(shown)
    return "\n".join(shown + ([f"... and {more} more"] if more else []))


def _backlogs(running: InstancesReport) -> Table:
    table = Table(title="Backlog (unfinished work)", title_justify="left")
    for column in ("Mailbox", "Direction", "Unfinished", "Oldest", "Last moved"):
        table.add_column(column, overflow="fold")
    for backlog in running.backlogs:
        table.add_row(backlog.mailbox, backlog.direction.value, str(backlog.unfinished),
                      _when(backlog.oldest_at, running.generated_at),
                      _when(backlog.last_change_at, running.generated_at))
    return table


def _status(state: DirectionStatus, now: datetime) -> Text:
    if not state.served:
        return Text(f"Not served: {state.reason}", style="dim")
    health = state.health
    text = Text(LABEL[health.status], style=f"bold {STYLE[health.status]}")
    if health.stopped:
        text.append(" (stopped)", style="bold red")
    if health.consecutive_failures:
        text.append(f", {health.consecutive_failures} failure(s) in a row")
        if health.failing_since is not None:
            text.append(f" since {_when(health.failing_since, now)}")
    return text


def _error(state: DirectionStatus, report: StatusReport) -> Text:
    health = state.health
    if not health.last_error:
        return Text("-", style="dim")
    return Text(f"{_when(health.last_error_at, report.generated_at)}: {health.last_error}")


def _alerts(report: StatusReport) -> Table:
    table = Table(title=f"Open alerts ({len(report.alerts)})", title_justify="left")
    for column in ("Id", "Kind", "Mailbox", "Raised", "Seen", "Alert"):
        table.add_column(column, overflow="fold")
    for alert in report.alerts:
        table.add_row(str(alert.id), alert.kind, alert.mailbox or "(router)",
                      _when(alert.raised_at, report.generated_at), f"{alert.occurrences}x", alert.text)
    return table


def _when(moment: datetime | None, now: datetime) -> str:
    """``moment`` as a short UTC time with how long ago it was ("-" when never)."""
    if moment is None:
        return "never"
    seconds = max(0, int((now - moment).total_seconds()))
    ago = (f"{seconds} s" if seconds < 120 else f"{seconds // 60} min" if seconds < 7200
           else f"{seconds // 3600} h" if seconds < 172800 else f"{seconds // 86400} d")
    return f"{moment:%Y-%m-%d %H:%M:%S}Z ({ago} ago)"

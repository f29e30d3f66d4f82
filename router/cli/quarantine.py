"""`email-router quarantine list | show ID | retry ID | resolve ID`: the messages set aside.

A quarantined message is never retried by itself. ``retry`` reopens it: the mailbox's lane processes
it again at its next run (from the mailbox, or from the kept copy if the item is gone); ``--now``
runs that mailbox's lane here at once. ``resolve`` closes an entry an admin has dealt with.
"""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from router.cli.context import AppContext, pass_app
from router.cli.homes import open_existing_store
from router.service.drain import drain_home
from router.state import QuarantineEntry, QuarantineStatus

STATUSES = [s.value for s in QuarantineStatus] + ["all"]


@click.group("quarantine", short_help="List, inspect, retry or resolve quarantined messages.")
def quarantine_group() -> None:
    """Incoming messages that could not be processed, with the stage and reason."""


@quarantine_group.command("list")
@click.option("--mailbox", help="Only this mailbox.")
@click.option("--status", type=click.Choice(STATUSES), default="open", show_default=True,
              help="Which entries: open (waiting for an admin), retry (waiting for the lane), resolved, all.")
@click.option("--limit", type=click.IntRange(1, 10_000), default=100, show_default=True)
@pass_app
def list_command(app: AppContext, mailbox: str | None, status: str, limit: int) -> None:
    """List quarantined messages, newest first."""
    wanted = None if status == "all" else QuarantineStatus(status)
    with open_existing_store(app.home) as store:
        entries = store.quarantine.entries(mailbox=mailbox.lower() if mailbox else None, status=wanted,
                                           limit=limit)
    console = Console(highlight=False)
    if not entries:
        console.print(Text(f"no {status if status != 'all' else ''} quarantine entries".replace("  ", " ")))
        return
    table = Table(title=f"Quarantine ({len(entries)})", title_justify="left")
    for column in ("id", "mailbox", "status", "stage", "reason code", "message", "updated"):
        table.add_column(column, overflow="fold")
    table.add_column("reason", overflow="fold", ratio=1)
    for e in entries:
        table.add_row(str(e.id), e.mailbox, e.status.value, e.stage, e.reason_code,
                      e.internet_message_id or e.message_key, e.updated_at.isoformat(timespec="seconds"),
                      e.reason)
    console.print(table)


@quarantine_group.command("show", short_help="Show one entry: where and why it failed.")
@click.argument("entry_id", type=click.IntRange(min=1))
@click.option("--save-mime", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the kept raw message (RFC 822) to this file, e.g. to open it in a mail client.")
@pass_app
def show_command(app: AppContext, entry_id: int, save_mime: Path | None) -> None:
    """Show one entry: where and why it failed, and the message's decisions."""
    with open_existing_store(app.home) as store:
        entry = store.quarantine.get(entry_id)
        decisions = store.trail.for_message(entry.mailbox, entry.message_key)
    console = Console(highlight=False)
    console.print(_details(entry))
    for d in decisions:
        console.print(Text(f"  {d.at.isoformat(timespec='seconds')}  {d.stage}: {d.result}"
                           f"{' (' + d.reason_code + ')' if d.reason_code else ''}  {d.text or ''}"))
    if save_mime is not None:
        if entry.mime is None:
            raise click.ClickException(f"entry {entry_id} keeps no copy of the message (Exchange could "
                                       "not give its content); open it in the mailbox")
        save_mime.write_bytes(entry.mime)
        console.print(Text(f"raw message written to {save_mime} ({len(entry.mime)} bytes)"))


def _details(entry: QuarantineEntry) -> Table:
    table = Table(title=f"Quarantine entry {entry.id}", show_header=False, title_justify="left")
    table.add_column("field")
    table.add_column("value", overflow="fold")
    kept = f"{len(entry.mime)} bytes" if entry.mime else "none"
    rows = [("mailbox", entry.mailbox), ("status", entry.status.value), ("stage", entry.stage),
            ("reason code", entry.reason_code), ("reason", entry.reason),
            ("message id", entry.internet_message_id or ""), ("ledger key", entry.message_key),
            ("item id", entry.item_id or ""), ("kept copy", kept), ("retries", str(entry.retry_count)),
            ("created", entry.created_at.isoformat(timespec="seconds")),
            ("updated", entry.updated_at.isoformat(timespec="seconds")),
            ("resolution", entry.resolution or "")]
    for name, value in rows:
        table.add_row(name, value)
    return table


@quarantine_group.command("retry")
@click.argument("entry_id", type=click.IntRange(min=1))
@click.option("--now", is_flag=True, help="Run the mailbox's lane here at once instead of waiting for the "
              "service's next run of it.")
@pass_app
def retry_command(app: AppContext, entry_id: int, now: bool) -> None:
    """Process quarantined message ENTRY_ID again."""
    with open_existing_store(app.home) as store:
        entry = store.quarantine.retry(entry_id)
    click.echo(f"quarantine entry {entry_id} ({entry.internet_message_id or entry.message_key}) of "
               f"{entry.mailbox} will be processed again (retry {entry.retry_count})")
    if now:
        report = drain_home(app.home, entry.mailbox)
        with open_existing_store(app.home) as store:
            after = store.quarantine.get(entry_id)
        click.echo(f"ran {entry.mailbox}: {report.processed} message(s) processed; entry {entry_id} is now "
                   f"{after.status.value}" + (f": {after.resolution}" if after.resolution else
                                              f" ({after.reason})"))


@quarantine_group.command("resolve")
@click.argument("entry_id", type=click.IntRange(min=1))
@click.option("--note", required=True, help="What was done about it (kept in the entry).")
@pass_app
def resolve_command(app: AppContext, entry_id: int, note: str) -> None:
    """Close entry ENTRY_ID: nothing more will be done about the message."""
    with open_existing_store(app.home) as store:
        store.quarantine.resolve(entry_id, note)
    click.echo(f"quarantine entry {entry_id} resolved")

"""`email-router trace MESSAGE-ID`: everything the router decided about one message, in order.

Answers "why was this mail ignored, and where did that one go?": for every mailbox the message was
seen in, the ledger's view (stage, CRM activity, attempts) and each recorded decision (screening
result and reason code, the CRM's answer and correlation method, acknowledgement, quarantine) with
its time. Exit status 1 when nothing is recorded about the message.
"""

from __future__ import annotations

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from router.cli.context import AppContext, pass_app
from router.cli.homes import open_existing_store
from router.errors import StateStoreError
from router.state import Decision, LedgerEntry
from router.state.keys import normalize_message_id


@click.command("trace", short_help="Show every decision taken about one message.")
@click.argument("message_id")
@pass_app
def trace_command(app: AppContext, message_id: str) -> None:
    """Show the decision trail of MESSAGE-ID (with or without angle brackets), across all mailboxes."""
    normalized = normalize_message_id(message_id) or message_id
    with open_existing_store(app.home) as store:
        entries = store.ledger.find_by_message_id(normalized)
        decisions = store.trail.for_message_id(normalized)
    if not entries and not decisions:
        raise StateStoreError(f"nothing is recorded about {normalized}: the router has not seen it",
                              hint="check the id, or whether the mailbox is served (`email-router status`) "
                              "and its process-from date")
    console = Console(highlight=False)
    if entries:
        console.print(_ledger_table(normalized, entries))
    for line in _trail_lines(decisions):
        console.print(line, soft_wrap=True)


def _ledger_table(message_id: str, entries: list[LedgerEntry]) -> Table:
    table = Table(title=f"{message_id} in the ledger", title_justify="left")
    for column in ("mailbox", "stage", "activity", "attempts", "first seen", "finished"):
        table.add_column(column, overflow="fold")
    table.add_column("last error", overflow="fold", ratio=1)
    for e in entries:
        table.add_row(e.mailbox, e.stage.value, e.activity_id or "", str(e.attempts), _time(e.created_at),
                      _time(e.finished_at), e.last_error or "")
    return table


def _trail_lines(decisions: list[Decision]) -> list[Text]:
    """One line per decision (time, mailbox, direction, stage: result, codes, activity, detail)."""
    lines = [Text("Decisions:", style="bold")]
    for d in decisions:
        line = Text(f"{_time(d.at)}  {d.mailbox}  {d.direction.value}  ")
        line.append(f"{d.stage}: {d.result}", style="bold")
        codes = [f"reason {d.reason_code}" if d.reason_code else "",
                 f"correlation {d.correlation_method}" if d.correlation_method else "",
                 f"activity {d.activity_id}" if d.activity_id else ""]
        line.append("".join(f"  [{c}]" for c in codes if c))
        if d.text:
            line.append(f"  {d.text}", style="dim")
        lines.append(line)
    return lines


def _time(value: object) -> str:
    return value.isoformat(timespec="seconds") if hasattr(value, "isoformat") else ""

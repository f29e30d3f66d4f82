"""`email-router trace MESSAGE-ID`: everything the router decided about one message, in order.

Answers "why was this mail ignored, and where did that one go?": for every mailbox the message was
seen in, the ledger's view (stage, CRM activity, attempts) and each recorded decision (screening
result and reason code, the CRM's answer and correlation method, acknowledgement, quarantine) with
its time. Exit status 1 when nothing is recorded about the message.

Ids (Message-IDs, activity ids, ledger keys) are printed whole on one line whatever the terminal's
width, so they can be copied; a long line wraps only where the terminal wraps it. Control characters
in recorded texts are shown as escapes (``\\x07``). ``--json`` prints the same as one JSON object for
scripts.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import click
from rich.console import Console
from rich.text import Text
from sqlalchemy import select

from router.cli.context import AppContext, pass_app
from router.cli.homes import open_existing_store
from router.errors import StateStoreError
from router.state import Decision, LedgerEntry, StateStore
from router.state.keys import normalize_message_id
from router.state.schema import incoming_ledger


@click.command("trace", short_help="Show every decision taken about one message.")
@click.argument("message_id", metavar="MESSAGE-ID|LEDGER-KEY")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (ledger rows and decisions).")
@pass_app
def trace_command(app: AppContext, message_id: str, as_json: bool) -> None:
    """Show the decision trail of MESSAGE-ID (with or without angle brackets), across all mailboxes; or
    of a LEDGER-KEY (as the log names a message without a Message-ID)."""
    normalized = normalize_message_id(message_id) or message_id
    with open_existing_store(app.home) as store:
        entries = store.ledger.find_by_message_id(normalized)
        decisions = store.trail.for_message_id(normalized)
        if not entries and not decisions:
            # Not a Message-ID: a ledger key (an unparseable item's, or a further item's ``<id>#item-…``).
            entries = _by_key(store, message_id.strip())
            found = [d for e in entries for d in store.trail.for_message(e.mailbox, e.message_key)]
            decisions = sorted(found, key=lambda d: (d.at, d.id))
    if not entries and not decisions:
        raise StateStoreError(f"nothing is recorded about {normalized}: the router has not seen it",
                              hint="check the id, or whether the mailbox is served (`email-router status`) "
                              "and its process-from date")
    if as_json:
        click.echo(json.dumps(_as_json(_shown(normalized, entries), entries, decisions), indent=2))
        return
    console = Console(highlight=False, soft_wrap=True)
    for line in [*_ledger_lines(_shown(normalized, entries), entries), *_trail_lines(decisions)]:
        console.print(line, soft_wrap=True)


def _shown(normalized: str, entries: list[LedgerEntry]) -> str:
    """What the output is about: the Message-ID, or the ledger key found instead."""
    if entries and all(e.internet_message_id != normalized for e in entries):
        return entries[0].message_key
    return normalized


def _by_key(store: StateStore, key: str) -> list[LedgerEntry]:
    """Every mailbox's ledger row with the ledger key ``key``."""
    with store.db.read() as conn:
        rows = conn.execute(select(incoming_ledger).where(incoming_ledger.c.message_key == key)
                            .order_by(incoming_ledger.c.id))
        return [LedgerEntry.from_row(r) for r in rows]


def _ledger_lines(message_id: str, entries: list[LedgerEntry]) -> list[Text]:
    """The ledger's rows, one line each, ids whole."""
    if not entries:
        return []
    lines = [Text(f"{message_id} in the ledger:", style="bold")]
    for e in entries:
        line = Text(f"{e.mailbox}  ")
        line.append(e.stage.value, style="bold")
        parts = [f"activity {e.activity_id}" if e.activity_id else "", f"attempts {e.attempts}",
                 f"first seen {_time(e.created_at)}",
                 f"finished {_time(e.finished_at)}" if e.finished_at else "",
                 f"key {e.message_key}" if e.message_key != message_id else ""]
        line.append("".join(f"  [{p}]" for p in parts if p))
        if e.last_error:
            line.append(f"  last error: {visible(e.last_error)}", style="dim")
        lines.append(line)
    return lines


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
            line.append(f"  {visible(d.text)}", style="dim")
        lines.append(line)
    return lines


def visible(text: str) -> str:
    """``text`` with control characters shown as escapes (``\\x07``), never dropped or garbled."""
    return "".join(ch if ch.isprintable() or ch == " " else ch.encode("unicode_escape").decode("ascii")
                   for ch in text)


def _as_json(message_id: str, entries: list[LedgerEntry], decisions: list[Decision]) -> dict[str, Any]:
    return {
        "message_id": message_id,
        "ledger": [{"mailbox": e.mailbox, "message_key": e.message_key, "stage": e.stage.value,
                    "activity_id": e.activity_id, "item_id": e.item_id, "attempts": e.attempts,
                    "recoveries": e.recoveries, "created_at": _time(e.created_at),
                    "finished_at": _time(e.finished_at), "last_error": e.last_error} for e in entries],
        "decisions": [{"at": _time(d.at), "mailbox": d.mailbox, "direction": d.direction.value,
                       "message_key": d.message_key, "stage": d.stage, "result": d.result,
                       "reason_code": d.reason_code, "correlation_method": d.correlation_method,
                       "activity_id": d.activity_id, "text": d.text} for d in decisions],
    }


def _time(value: datetime | None) -> str:
    return value.isoformat(timespec="seconds") if value is not None else ""

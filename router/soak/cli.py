"""`scripts/soak` (``python -m router.soak``): run the fault soak and print its verdict."""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from router.errors import HarnessError, RouterError
from router.harness.postgres import soak_database
from router.soak.audit import Verdict
from router.soak.chaos import REQUEST_LOG
from router.soak.run import run_soak
from router.soak.settings import SoakSettings


def _fleet_rows(verdict: Verdict) -> list[tuple[str, float, str]]:
    if verdict.instances == 1:
        return []
    return [("router instances on one PostgreSQL database", verdict.instances, ""),
            ("SIGSTOP past the lease, then SIGCONT", verdict.pauses, ""),
            ("graceful stops", verdict.graceful_stops, ""),
            ("longest kill or pause until its lanes were served (s)", verdict.recovery_seconds_max or 0, ""),
            ("longest graceful hand-over (s)", verdict.handover_seconds_max or 0, ""),
            ("lanes not served again in time", verdict.lanes_unrecovered, "0"),
            *_outage_rows(verdict)]


def _outage_rows(verdict: Verdict) -> list[tuple[str, float, str]]:
    if not verdict.db_outage_seconds:
        return []
    never = -1.0
    return [("state database out of reach (s)", verdict.db_outage_seconds, ""),
            ("every lane paused after (s)", verdict.lanes_paused_after_seconds or never, ""),
            ("every lane held again after its return (s; -1: never)", verdict.work_resumed_after_seconds
             if verdict.work_resumed_after_seconds is not None else never, ""),
            ("state_store_unreachable alerts", verdict.state_store_alerts, "")]


def verdict_table(verdict: Verdict, transport: str = "ews") -> Table:
    table = Table(title="Soak verdict", title_justify="left")
    table.add_column("check")
    table.add_column("count", justify="right")
    table.add_column("must be")
    at_least = " (at least)" if verdict.requests_under_faults >= REQUEST_LOG else ""
    face = "Graph" if transport == "graph" else "EWS"
    rows = [("inbound injected", verdict.injected, ""),
            ("inbound delivered to the CRM", verdict.delivered, ""),
            ("lost inbound messages", len(verdict.lost_inbound), "0"),
            ("duplicate activities", verdict.duplicate_activities, "0"),
            ("re-deliveries explained by a kill or pause after the delivery",
             verdict.redelivery_causes.get("after-kill", 0), ""),
            ("re-deliveries explained by a hand-over after a kill or pause",
             verdict.redelivery_causes.get("hand-over", 0), ""),
            ("re-deliveries no kill explains", len(verdict.unexplained_redeliveries), "0"),
            ("outbound composed in the CRM", verdict.composed, ""),
            ("outbound Sent in the CRM", verdict.sent_in_crm, ""),
            ("outbound received by recipients", verdict.received_by_recipients, ""),
            ("lost sends", len(verdict.lost_sends), "0"),
            ("duplicate sends", verdict.duplicate_sends, "0"),
            ("router SIGKILLs", verdict.kills, ""),
            *_fleet_rows(verdict),
            (f"{face} requests while faults were on{at_least}", verdict.requests_under_faults, ""),
            ("requests hit by a fault", sum(verdict.fault_hits.values()), ""),
            ("quarantined", len(verdict.quarantine), "")]
    for name, count, must in rows:
        style = "red" if must == "0" and count else None
        table.add_row(name, f"{count:,}", must, style=style)
    return table


def quarantine_table(verdict: Verdict) -> Table:
    table = Table(title="Quarantine (open entries)", title_justify="left")
    for name in ("mailbox", "message", "stage", "reason"):
        table.add_column(name)
    for entry in verdict.quarantine:
        table.add_row(entry["mailbox"], entry["message"], entry["stage"], entry["reason"])
    return table


@click.command()
@click.option("--messages", type=click.IntRange(1), default=2000, show_default=True,
              help="Inbound messages; outbound CRM e-mails are half as many unless --outbound is given.")
@click.option("--outbound", type=click.IntRange(0), default=None, help="Outbound CRM e-mails.")
@click.option("--mailboxes", type=click.IntRange(1), default=10, show_default=True)
@click.option("--feed-seconds", type=click.FloatRange(1), default=60.0, show_default=True,
              help="Traffic is fed over this long (while faults and kills go on).")
@click.option("--fault-rate", type=click.FloatRange(0.001, 0.5), default=0.05, show_default=True,
              help="Fraction of EWS requests that fail (split between busy, 500, 503, slow, drop).")
@click.option("--kills", "min_kills", type=click.IntRange(0), default=5, show_default=True,
              help="At least this many SIGKILLs of the router.")
@click.option("--drain-seconds", type=click.FloatRange(1), default=480.0, show_default=True,
              help="How long the router may take to finish once faults and kills stop (a send in flight "
              "at a kill waits out a 5-minute claim lease).")
@click.option("--sends-after-kills", is_flag=True,
              help="Compose the outbound e-mail only after the last kill (faults still apply): a quick run.")
@click.option("--instances", type=click.IntRange(1), default=1, show_default=True,
              help="Router instances; more than one share a PostgreSQL database, and the kills become "
              "SIGKILL, SIGSTOP/SIGCONT and graceful stops spread across them.")
@click.option("--state-store", "state_store", default=None, metavar="URL",
              help="PostgreSQL database for --instances (default: a throwaway embedded server).")
@click.option("--lease-seconds", type=click.FloatRange(5), default=10.0, show_default=True,
              help="The instances' lane lease with --instances.")
@click.option("--db-outage", "db_outage", type=click.FloatRange(0), default=0.0, show_default=True,
              metavar="SECONDS", help="With --instances: cut the instances off the database this long, "
              "halfway through the feed (lanes must pause, an alert open, and work resume by itself).")
@click.option("--transport", type=click.Choice(["ews", "graph"]), default="ews", show_default=True,
              help="Reach the mailboxes over EWS or over Microsoft Graph (app-only OAuth, the same faults "
              "answered Graph's way: 429 with Retry-After, 503, dropped connections).")
@click.option("--seed", type=int, default=1, show_default=True, help="Random seed (traffic and kill times).")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), default=None,
              help="Also write the verdict to this JSON file.")
@click.option("--keep", is_flag=True, help="Keep the work directory (homes, logs) and print where it is.")
def soak_command(messages: int, outbound: int | None, mailboxes: int, feed_seconds: float, fault_rate: float,
                 min_kills: int, drain_seconds: float, sends_after_kills: bool, instances: int,
                 state_store: str | None, lease_seconds: float, db_outage: float, transport: str, seed: int,
                 json_path: str | None, keep: bool) -> None:
    """Fault soak: exactly-once delivery and sending while the simulator fails and the router is killed."""
    console = Console() if sys.stdout.isatty() else Console(width=140)
    settings = SoakSettings(inbound=messages, outbound=messages // 2 if outbound is None else outbound,
                            mailboxes=mailboxes, feed_seconds=feed_seconds, fault_rate=fault_rate,
                            min_kills=min_kills, drain_seconds=drain_seconds, seed=seed,
                            sends_during_kills=not sends_after_kills, instances=instances,
                            lease_seconds=lease_seconds, db_outage_seconds=db_outage,
                            transport=transport)
    workdir = Path(tempfile.mkdtemp(prefix="email-router-soak-"))
    try:
        started = time.monotonic()
        say = lambda text: console.print(f"[dim]{time.monotonic() - started:6.1f} s · {text}[/]")  # noqa: E731
        if instances == 1 and state_store is None:
            verdict = run_soak(settings, workdir, say)
        else:
            with soak_database(state_store, workdir) as url:
                verdict = run_soak(settings, workdir, say, url)
    except RouterError as exc:
        console.print(f"[red]soak failed:[/] {exc}")
        sys.exit(exc.exit_code)
    finally:
        if keep:
            console.print(f"work directory kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    console.print(verdict_table(verdict, transport))
    if verdict.quarantine:
        console.print(quarantine_table(verdict))
    if json_path:
        document = {"settings": settings.as_json(), **verdict.as_json()}
        Path(json_path).write_text(json.dumps(document, indent=2), encoding="utf-8")
        console.print(f"JSON verdict: {json_path}")
    if not verdict.passed:
        console.print(f"[red]FAILED[/] after {verdict.seconds:.0f} s: lost inbound "
                      f"{verdict.lost_inbound[:5]}, lost sends {verdict.lost_sends[:5]}")
        sys.exit(HarnessError.exit_code)
    console.print(f"[green]PASSED[/] in {verdict.seconds:.0f} s: nothing lost, nothing duplicated "
                  f"(faults hit: {', '.join(f'{k} {v}' for k, v in sorted(verdict.fault_hits.items()))}).")


def main() -> None:
    soak_command.main(prog_name="scripts/soak")

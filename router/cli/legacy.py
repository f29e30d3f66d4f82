"""`email-router import-legacy`: turn a legacy E-mail Router's files into validated profiles.

Reads ``Microsoft.Crm.Tools.EmailAgent.xml`` and ``Microsoft.Crm.Tools.EmailAgent.SystemState.xml`` (or
a directory holding them), writes profiles that pass `email-router profiles validate` into ``--out``,
and prints what was imported, the credentials to set, and everything that could not be carried over.
"""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from router.clock import SystemClock
from router.legacy import read_installation
from router.legacy.importer import ImportResult, plan_import
from router.legacy.model import Severity
from router.legacy.output import check_target, write_import
from router.legacy.report import CREDENTIALS_FILE, REPORT_FILE, graph_lines, graph_profiles, sorted_findings

_STYLES = {Severity.ERROR: "bold red", Severity.WARNING: "yellow", Severity.INFO: "dim"}


@click.command("import-legacy", short_help="Import a legacy E-mail Router configuration.")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Directory for the generated profiles and reports (new or empty).")
@click.option("--force", is_flag=True,
              help="Write into a non-empty directory, replacing a previous import's files.")
def import_legacy_command(paths: tuple[Path, ...], out_dir: Path, force: bool) -> None:
    """Import a legacy E-mail Router configuration from PATH... (files or directories).

    PATH names Microsoft.Crm.Tools.EmailAgent.xml and, to carry each mailbox's threshold date over,
    Microsoft.Crm.Tools.EmailAgent.SystemState.xml; files are recognised by content, not name.
    """
    check_target(out_dir, force=force)
    installation = read_installation(list(paths))
    result = plan_import(installation, SystemClock())
    foreign = write_import(result, out_dir, force=force)
    console = Console(highlight=False)
    _summary(console, result, out_dir)
    _credentials(console, result)
    _findings(console, result)
    for line in graph_lines(result) if graph_profiles(result) else []:
        console.print(Text(line, style="yellow"), soft_wrap=True)
    if foreign:
        names = ", ".join(p.name for p in foreign)
        console.print(Text(f"note: {out_dir} also holds {names}; `email-router profiles validate` reads "
                           "those too", style="yellow"))
    console.print(Text(f"next: set the credentials above, review {out_dir / REPORT_FILE}, then run "
                       f"`email-router profiles validate {out_dir}`"))


def _summary(console: Console, result: ImportResult, out_dir: Path) -> None:
    stats = result.stats
    table = Table(title="Legacy import", show_header=False, title_justify="left")
    table.add_column("what")
    table.add_column("count", justify="right")
    rows = [("providers read", stats.providers), ("profiles", stats.profiles),
            ("deployments", stats.deployments), ("users", stats.users), ("queues", stats.queues),
            ("forward mailboxes", stats.forward_mailboxes),
            ("mailboxes continuing from their legacy threshold date", stats.carried_thresholds),
            ("mailboxes starting at the import time", stats.mailboxes - stats.carried_thresholds),
            ("credentials to set", len(result.credentials)), ("findings", len(result.findings))]
    for label, count in rows:
        table.add_row(label, str(count))
    console.print(table)
    console.print(Text(f"written to {out_dir}: {', '.join(sorted(result.files))}, {CREDENTIALS_FILE}, "
                       f"{REPORT_FILE}"))


def _credentials(console: Console, result: ImportResult) -> None:
    if not result.credentials:
        console.print(Text("No credentials to set."))
        return
    console.print(Text("Credentials to set (legacy passwords cannot be decrypted; the secret is prompted):",
                       style="bold"))
    for need in result.credentials:
        console.print(Text(f"  {need.command()}"), soft_wrap=True)
        console.print(Text(f"      {need.purpose}; used by {', '.join(need.used_by)}", style="dim"),
                      soft_wrap=True)


def _findings(console: Console, result: ImportResult) -> None:
    if not result.findings:
        console.print(Text("Everything was carried over: no findings."))
        return
    table = Table(title=f"Not carried over as-is ({len(result.findings)})", title_justify="left")
    table.add_column("severity")
    table.add_column("file", overflow="fold")
    table.add_column("where", overflow="fold")
    table.add_column("what", overflow="fold", ratio=1)
    for finding in sorted_findings(result.findings):
        what = finding.message + (f" [value: {finding.value}]" if finding.value else "")
        file = Path(finding.file).name + (f":{finding.line}" if finding.line else "") if finding.file else ""
        table.add_row(Text(finding.severity.value, style=_STYLES[finding.severity]), Text(file),
                      Text(finding.path), Text(what))
    console.print(table)

"""`email-router rules deploy`: the legacy Rule Deployment Wizard, idempotent.

Creates, in the mailbox of every CRM user whose incoming mail comes through a forward mailbox, an
inbox rule forwarding each message as an attachment to that forward mailbox. Rules already in place
are left alone; disabled ones are enabled again. Exit status 1 when any mailbox failed.
"""

from __future__ import annotations

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from router.cli.context import AppContext, pass_app
from router.clock import SystemClock
from router.config import load_published
from router.ews import perf
from router.pipeline.incoming.rules_deploy import RuleAction, deploy_rules
from router.runtime.metrics import Metrics
from router.runtime.resources import Resources

_STYLE = {RuleAction.CREATED: "green", RuleAction.ENABLED: "yellow", RuleAction.UNCHANGED: "dim",
          RuleAction.FAILED: "bold red"}


@click.group("rules", short_help="Deploy forward-mailbox inbox rules.")
def rules_group() -> None:
    """Inbox rules that forward users' mail to a forward mailbox."""


@rules_group.command("deploy", short_help="Create missing forwarding rules.")
@click.option("--mailbox", help="Only this user's mailbox.")
@click.option("--forward-mailbox", help="The forward mailbox to point at, when a deployment has several.")
@pass_app
def deploy_command(app: AppContext, mailbox: str | None, forward_mailbox: str | None) -> None:
    """Create the forwarding rule in each forward-mailbox user's mailbox where it is missing."""
    perf.install()
    config = load_published(app.home)
    clock = SystemClock()
    resources = Resources(app.home, clock, Metrics())
    try:
        results = deploy_rules(config, resources.accounts, lambda name: resources.gateway(config, name),
                               mailbox=mailbox, forward_mailbox=forward_mailbox)
    finally:
        resources.close()
    console = Console(highlight=False)
    if not results:
        console.print(Text("no CRM user receives mail through a forward mailbox: nothing to deploy"))
        return
    table = Table(title="Forward-mailbox rules", title_justify="left")
    for column in ("user", "forward mailbox", "action"):
        table.add_column(column, overflow="fold")
    table.add_column("detail", overflow="fold", ratio=1)
    for r in results:
        table.add_row(r.user, r.forward_mailbox, Text(r.action.value, style=_STYLE[r.action]), r.detail)
    console.print(table)
    if any(r.action is RuleAction.FAILED for r in results):
        raise click.exceptions.Exit(1)


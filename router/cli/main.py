"""Root of the `email-router` command line.

Every RouterError is shown as its message and hint (never a traceback) and turned into the exit code
documented in ``--help``.
"""

from __future__ import annotations

import sys

import click

from router.cli.access import test_access_command
from router.cli.backfill import backfill_command
from router.cli.console import console_group
from router.cli.context import AppContext
from router.cli.credentials import credentials_group
from router.cli.crm import crm_group
from router.cli.init import init_command
from router.cli.legacy import import_legacy_command
from router.cli.mailbox import mailbox_group
from router.cli.profiles import profiles_group
from router.cli.publish import publish_command
from router.cli.published import published_group
from router.cli.quarantine import quarantine_group
from router.cli.rules import rules_group
from router.cli.run import run_command
from router.cli.simulate import simulate
from router.cli.simulate_crm import crm as simulate_crm
from router.cli.state import state_group
from router.cli.status import status_command
from router.cli.trace import trace_command
from router.errors import EXIT_CODES, RouterError
from router.home import ENV_HOME, Home, default_home, resolve_home, restrict_umask

EPILOG = "Exit codes:\n\n\b\n" + "\n".join(f"{code:>3}  {text}" for code, text in EXIT_CODES.items())
"""The exit codes table of ``--help`` (``\b`` keeps click from rewrapping its lines into one paragraph)."""


class RouterGroup(click.Group):
    """A click group that renders RouterError as a clear message and its exit code."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except RouterError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(exc.exit_code)


@click.group(cls=RouterGroup, epilog=EPILOG, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--home",
    "home",
    type=click.Path(file_okay=False),
    default=None,
    help=f"Home directory for key, vault, published configurations and state "
    f"(default: ${ENV_HOME}, else {default_home()}).",
)
@click.version_option(package_name="email-router")
@click.pass_context
def cli(ctx: click.Context, home: str | None) -> None:
    """email-router: routes email between Exchange (EWS) and a Dynamics CRM."""
    ctx.obj = AppContext(home=Home(resolve_home(home)))


def main() -> None:
    """Console-script entry point."""
    restrict_umask()
    sys.exit(cli.main(prog_name="email-router", standalone_mode=True))


cli.add_command(init_command)
cli.add_command(profiles_group)
cli.add_command(credentials_group)
cli.add_command(publish_command)
cli.add_command(published_group)
cli.add_command(import_legacy_command)
cli.add_command(simulate)
cli.add_command(run_command)
cli.add_command(crm_group)
simulate.add_command(simulate_crm)
cli.add_command(test_access_command)
cli.add_command(mailbox_group)
cli.add_command(status_command)
cli.add_command(state_group)
cli.add_command(trace_command)
cli.add_command(quarantine_group)
cli.add_command(backfill_command)
cli.add_command(rules_group)
cli.add_command(console_group)

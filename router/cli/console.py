"""`email-router console password`: set the password of the web console (`email-router run` serves it)."""

from __future__ import annotations

import sys

import click

from router.cli.context import AppContext, pass_app
from router.console.password import MIN_LENGTH, set_console_password
from router.errors import UsageError


@click.group("console", short_help="Set the web console's admin password.")
def console_group() -> None:
    """The admin's web console, served by `email-router run` on its status address."""


@console_group.command("password", short_help="Set the console password (prompted, never echoed).")
@click.option("--stdin", "from_stdin", is_flag=True,
              help="Read the password from standard input (first line) instead of prompting.")
@pass_app
def password_command(app: AppContext, from_stdin: bool) -> None:
    """Set the console's admin password; only a slow (scrypt) hash of it is kept, in the vault.

    A running service uses the new password at the next sign-in; sessions already open stay open.
    """
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise UsageError("no password on standard input", hint="pipe the password in, e.g. from a file")
    else:
        password = click.prompt(f"console password (at least {MIN_LENGTH} characters)", hide_input=True,
                                confirmation_prompt=True)
    set_console_password(app.home, password)
    click.echo("console password set; sign in at the status address of `email-router run` (/login)")

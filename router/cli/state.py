"""`email-router state`: the router's state database (schema migrations, moving it to PostgreSQL)."""

from __future__ import annotations

import click
from pydantic import ValidationError
from sqlalchemy.engine import URL, make_url

from router.cli.context import AppContext, pass_app
from router.cli.homes import open_existing_store
from router.clock import SystemClock
from router.config.settings import SystemSettings
from router.errors import UsageError
from router.state import StateStore
from router.state.copy import copy_state
from router.vault.credentials import PasswordCredential
from router.vault.store import Vault


@click.group("state")
def state_group() -> None:
    """Upgrade or move the router's state database."""


@state_group.command("migrate")
@click.option("--to", "target", metavar="URL",
              help="Copy the whole state into this new, empty database (postgresql://host/database).")
@click.option("--credential", metavar="NAME",
              help="Vault credential (kind password) to log in to --to with.")
@pass_app
def migrate_command(app: AppContext, target: str | None, credential: str | None) -> None:
    """Upgrade the state schema; --to copies all state to a new database.

    Stop every router instance first. The copy is one transaction: it lands whole or not at all.
    """
    clock = SystemClock()
    with open_existing_store(app.home, upgrade=True) as source:
        click.echo(f"{source.db.location}: schema is current")
        if target is None:
            return
        url = _target_url(target)
        if credential is not None:
            login = Vault.open(app.home).get(credential)
            if not isinstance(login, PasswordCredential):
                raise UsageError(f"credential {credential!r} is not a password credential",
                                 hint=f"run `email-router credentials set {credential} --kind password`")
            url = url.set(username=login.username, password=login.password.get_secret_value())
        with StateStore.open(url, clock, upgrade=True) as destination:
            for table in copy_state(source.db, destination.db):
                click.echo(f"  {table.table}: {table.rows} rows")
            click.echo(f"copied into {destination.db.location}; set [settings] state_store = "
                       f"\"{target}\" (and state_store_credential), then publish")


def _target_url(target: str) -> URL:
    """The --to URL, checked by the settings' own rule (never echoed: it may hold a secret)."""
    try:
        checked = SystemSettings.model_validate({"state_store": target}).state_store
    except ValidationError as exc:
        raise UsageError(f"--to: {exc.errors()[0]['msg']}",
                         hint="give postgresql://host/database, and the password with --credential NAME",
                         ) from None
    return make_url(str(checked))

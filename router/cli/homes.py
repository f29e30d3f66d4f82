"""What a command may expect to find in the home: refused clearly when missing, never created by mistake.

A wrong ``--home`` (or ``EMAIL_ROUTER_HOME``) must not leave an empty database behind that hides the
mistake: commands that read the service's state refuse a home without a state database, and the
embedded CRM is created at first use only inside a home that exists (`email-router init` creates it).
"""

from __future__ import annotations

from pathlib import Path

import click

from router.cli.context import AppContext
from router.clock import SystemClock
from router.errors import StateStoreError, UsageError
from router.home import Home
from router.runtime.state_location import latest_config, open_configured_store, shares_state
from router.state import StateStore

CHECK_HOME = "check --home / EMAIL_ROUTER_HOME"


def open_existing_store(home: Home, *, upgrade: bool | None = None) -> StateStore:
    """The home's state store; a StateStoreError when there is none (a wrong home, or a service never run).

    When the published settings name a shared PostgreSQL state store, that database is opened instead.
    """
    config = latest_config(home) if home.root.is_dir() else None
    if shares_state(config):
        return open_configured_store(home, SystemClock(), config, upgrade=upgrade)
    if not home.state_db.exists():
        raise StateStoreError(f"there is no state database at {home.state_db}",
                              hint=f"{CHECK_HOME}; the service creates it when it first runs "
                              "(`email-router run`)")
    return StateStore.open_home(home, SystemClock(), upgrade=upgrade)


def crm_database(ctx: click.Context, db: str | None = None) -> Path:
    """The embedded CRM file of this invocation: ``db``, the group's ``--db``, else the home's.

    The home's CRM is created at first use, but only in a home that exists: a UsageError otherwise.
    """
    chosen = db or ctx.find_root().meta.get("crm_db")
    if chosen:
        return Path(chosen)
    app = ctx.find_object(AppContext)
    if app is None:
        raise UsageError("no CRM database given", hint="pass --db")
    if not app.home.root.is_dir():
        raise UsageError(f"the home directory {app.home.root} does not exist",
                         hint=f"{CHECK_HOME}, or run `email-router init` first (or pass --db FILE)")
    return app.home.crm_db

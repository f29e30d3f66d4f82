"""Bring a state database to the schema this router runs on, through the Alembic history.

One history serves SQLite and PostgreSQL (``router/state/migrations``). When a store opens:

* an empty database gets the whole history (every instance racing to create it on PostgreSQL waits
  for one transaction-scoped advisory lock, so exactly one creates it);
* a SQLite home from before the history (tables and ``schema_meta`` version 1, no Alembic version) is
  stamped at revision 0001;
* an older revision is upgraded in place when the caller allows it (the embedded SQLite home, or
  ``email-router state migrate``), and refused with that command otherwise: on PostgreSQL other
  instances may still be running the old code against it;
* a revision this router does not know (written by a newer router) is refused.
"""

from __future__ import annotations

import functools

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, func, inspect, select

from router.errors import StateStoreError
from router.state.engine import Database

MIGRATE_COMMAND = "email-router state migrate"

BASELINE = "0001"
"""The revision that matches the schema of homes created before the Alembic history."""

_LOCK_KEY = 0x5EA7_5C4E
"""The PostgreSQL advisory lock key that serialises schema changes between instances."""


def _config(conn: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", "router.state:migrations")
    config.attributes["connection"] = conn
    return config


@functools.cache
def head_revision() -> str:
    """The newest revision of the history: the schema this router runs on."""
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None
    return head


@functools.cache
def known_revisions() -> frozenset[str]:
    """Every revision of the history (read once: the scripts ship with this version)."""
    return frozenset({script.revision for script in ScriptDirectory.from_config(_config()).walk_revisions()})


def current_revision(conn: Connection) -> str | None:
    """The revision the database is at; the baseline for a home from before the history; None if empty."""
    revision = MigrationContext.configure(conn).get_current_revision()
    if revision is None and inspect(conn).has_table("schema_meta"):
        return BASELINE
    return revision


def prepare_schema(db: Database, *, upgrade: bool) -> str:
    """Create, check or (when ``upgrade``) upgrade the schema of ``db``; return the revision it is at."""
    head = head_revision()
    with db.write() as conn:
        if not db.is_sqlite:
            conn.execute(select(func.pg_advisory_xact_lock(_LOCK_KEY)))
        revision = current_revision(conn)
        if revision == head:
            return head
        if revision is not None and revision not in known_revisions():
            raise StateStoreError(
                f"the state database {db.location} is at schema revision {revision}, written by a newer "
                f"email-router than this one (which knows up to {head})",
                hint="run the email-router version that wrote it, or point the router at another "
                "state database")
        if revision is not None and not upgrade:
            raise StateStoreError(
                f"the state database {db.location} is at schema revision {revision}; "
                f"this router needs {head}",
                hint=f"stop every router instance using it, then run `{MIGRATE_COMMAND}` with this version")
        if revision == BASELINE and MigrationContext.configure(conn).get_current_revision() is None:
            command.stamp(_config(conn), BASELINE)
        command.upgrade(_config(conn), "head")
    return head

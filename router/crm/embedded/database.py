"""The SQLite file behind the embedded CRM: one engine, WAL journal, writers serialised.

Writes run in ``BEGIN IMMEDIATE`` transactions so that two workers claiming outgoing e-mail (or
delivering the same message) take the database write lock before they read what they will change: the
second waits for the first and then sees its result. Reads use ordinary deferred transactions and, thanks
to WAL, never block writers.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.schema import CreateIndex

from router.crm.embedded import subjects
from router.crm.embedded.schema import metadata
from router.errors import CrmPermanentError, CrmTransientError
from router.home import create_private

BUSY_TIMEOUT_SECONDS = 30.0
_IMMEDIATE = "email_router_immediate"


def open_engine(path: Path) -> Engine:
    """Open (creating if needed) the CRM database at ``path`` and make sure every table exists."""
    try:
        # Created 0600 before SQLite opens it; SQLite gives -wal and -shm the database file's mode.
        create_private(path)
    except OSError as exc:
        raise CrmPermanentError(
            f"cannot create the directory of the embedded CRM database: {exc}",
            path=str(path),
            hint="choose a writable location for the CRM database",
        ) from exc
    engine = create_engine(
        f"sqlite+pysqlite:///{path}",
        connect_args={"timeout": BUSY_TIMEOUT_SECONDS, "check_same_thread": False},
    )
    event.listen(engine, "connect", _configure_connection)
    event.listen(engine, "begin", _begin)
    try:
        metadata.create_all(engine)
        _add_new_columns(engine)
        _add_new_indexes(engine)
        subjects.install(engine, {_IMMEDIATE: True})
    except SQLAlchemyError as exc:
        engine.dispose()
        raise CrmPermanentError(
            f"cannot open the embedded CRM database: {exc.__class__.__name__}: {exc}",
            path=str(path),
            hint="check that the file is a CRM database and is writable",
        ) from exc
    return engine


def _add_new_columns(engine: Engine) -> None:
    """Add the (nullable) columns a table made by an older version lacks (create_all skips existing
    tables)."""
    with engine.begin() as conn:
        for table in metadata.sorted_tables:
            present = {row[1] for row in conn.exec_driver_sql(f'PRAGMA table_info("{table.name}")')}
            for column in table.columns:
                if column.name not in present and column.nullable:
                    kind = column.type.compile(dialect=engine.dialect)
                    conn.exec_driver_sql(f'ALTER TABLE "{table.name}" ADD COLUMN "{column.name}" {kind}')


def _add_new_indexes(engine: Engine) -> None:
    """Create the indexes a database made by an older version lacks (create_all skips existing tables)."""
    with engine.begin() as conn:
        for table in metadata.sorted_tables:
            for index in table.indexes:
                conn.execute(CreateIndex(index, if_not_exists=True))


def _configure_connection(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
    # Hand transaction control to SQLAlchemy (the pysqlite driver would otherwise issue its own BEGIN),
    # then switch on WAL and foreign keys for this connection.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_SECONDS * 1000)}")
    finally:
        cursor.close()


def _begin(connection: Connection) -> None:
    immediate = connection.get_execution_options().get(_IMMEDIATE, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


@contextmanager
def write(engine: Engine) -> Iterator[Connection]:
    """Run one write transaction holding the database write lock from its first statement."""
    with _translated(engine), engine.connect() as connection:
        connection.execution_options(**{_IMMEDIATE: True})
        with connection.begin():
            yield connection


@contextmanager
def read(engine: Engine) -> Iterator[Connection]:
    """Run one read transaction (a consistent snapshot under WAL)."""
    with _translated(engine), engine.connect() as connection, connection.begin():
        yield connection


@contextmanager
def _translated(engine: Engine) -> Iterator[None]:
    try:
        yield
    except SQLAlchemyError as exc:
        orig = getattr(exc, "orig", None)
        detail = str(orig) if orig is not None else str(exc)
        error = CrmTransientError if "locked" in detail or "busy" in detail else CrmPermanentError
        raise error(
            f"the embedded CRM database failed: {detail}",
            path=str(engine.url.database),
            hint="retry later" if error is CrmTransientError else "check the CRM database file",
        ) from exc

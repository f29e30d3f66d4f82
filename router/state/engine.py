"""The database behind the state store: one SQLAlchemy engine and its two kinds of transaction.

SQLite is the default (one file, WAL journal, a busy timeout) and must be safe for several threads of
one process and for several processes at once. Two things make that true:

* every transaction that writes starts with ``BEGIN IMMEDIATE``, so a writer takes the write lock
  before it reads what it is about to change. A deferred transaction that read first and then tried
  to write could fail with "database is locked" at once, without waiting for the busy timeout;
* WAL lets readers go on while one writer writes.

Everything else is plain SQLAlchemy Core, so a PostgreSQL URL works without change: there the
compare-and-set UPDATEs that the stores use are atomic under READ COMMITTED on their own.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import SQLAlchemyError

from router.errors import StateStoreError
from router.state import fencing

BUSY_TIMEOUT_MS = 30_000
"""How long a SQLite writer waits for another writer before giving up: long enough to ride out any
realistic transaction of another thread or process."""

POOL_SIZE = 20
"""Pooled connections kept open (as many again may be opened under load): one per busy worker thread."""

CONNECT_TIMEOUT_SECONDS = 10
"""How long connecting to a PostgreSQL server may take before the attempt fails."""
IDLE_IN_TRANSACTION_SECONDS = 30
"""PostgreSQL ends a session idle inside a transaction this long: a backstop for a process paused or hung
in the middle of one. No router transaction waits on anything but the database, yet a busy process can
leave a thread between two statements for seconds, so this is far longer than any such stall."""

_WRITE_OPTION = "router_write"


def sqlite_url(path: Path) -> str:
    """Return the SQLAlchemy URL of a SQLite database file."""
    return f"sqlite:///{path}"


def driver_url(url: str | URL) -> URL:
    """The URL with the driver this router ships: ``postgresql://`` means psycopg 3, not psycopg2."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+psycopg")
    return parsed


def _install_sqlite_hooks(engine: Engine, synchronous: str) -> None:
    """Take transaction control away from the sqlite3 module and set the pragmas on every connection."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # The sqlite3 module would otherwise emit its own deferred BEGIN before the first write.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            cursor.execute(f"PRAGMA synchronous={synchronous}")
            cursor.execute("PRAGMA foreign_keys=ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get(_WRITE_OPTION, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def serialised_writer(conn: Connection) -> bool:
    """True when ``conn`` is a SQLite write transaction of ``Database.write``: it began with BEGIN
    IMMEDIATE, so no other writer can change the database until it ends."""
    return conn.dialect.name == "sqlite" and bool(conn.get_execution_options().get(_WRITE_OPTION, False))


def server_location(url: URL) -> str:
    """'database D on host H' for a server URL (a Unix socket directory counts as the host)."""
    host = url.host or url.query.get("host") or "localhost"
    port = f":{url.port}" if url.port else ""
    return f"{url.database!r} on host {host}{port}"


class Database:
    """An engine plus the read and write transactions every store uses.

    ``synchronous`` (SQLite only): with WAL, ``NORMAL`` (the default) keeps every committed
    transaction through any crash of the router process, and a power cut can lose only the last
    few, never corrupt the file. The pipelines are built for that: a lost "delivered" or
    "submitted" mark sends the message back through the CRM's duplicate check or the Sent Items
    check. ``FULL`` also survives a power cut, at about twice the cost per commit.
    """

    def __init__(self, url: str | URL, *, synchronous: str = "NORMAL", pool_size: int = POOL_SIZE,
                 echo: bool = False) -> None:
        if synchronous not in ("FULL", "NORMAL"):
            raise StateStoreError(f"unknown synchronous mode {synchronous!r}", hint="use FULL or NORMAL")
        parsed = driver_url(url)
        self.url = parsed.render_as_string(hide_password=True)
        """The URL with any password masked: safe to show."""
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        self.location = str(parsed.database) if self.is_sqlite else server_location(parsed)
        in_memory = self.is_sqlite and parsed.database in (None, "", ":memory:")
        if self.is_sqlite and not in_memory:
            Path(str(parsed.database)).parent.mkdir(parents=True, exist_ok=True)
        # Every worker thread may hold a connection at once; an in-memory SQLite database has one
        # connection per thread and no pool to size.
        pool: dict[str, Any] = {} if in_memory else {"pool_size": pool_size, "max_overflow": pool_size}
        if not self.is_sqlite:
            # An unreachable server must fail the start within seconds, not hang on the TCP connect.
            # A process paused in the middle of a transaction (SIGSTOP, a frozen VM) must not keep its row
            # locks, which would hold up the instances taking over its lanes: the server ends such a session.
            idle = f"-c idle_in_transaction_session_timeout={IDLE_IN_TRANSACTION_SECONDS * 1000}"
            pool["connect_args"] = {"connect_timeout": CONNECT_TIMEOUT_SECONDS, "options": idle}
        try:
            self.engine = create_engine(parsed, echo=echo, **pool)
        except (SQLAlchemyError, ImportError, ValueError) as exc:
            raise StateStoreError(
                f"cannot open the state database {self.location}: {exc}",
                hint="check the state database URL in the settings",
            ) from exc
        if self.is_sqlite:
            _install_sqlite_hooks(self.engine, synchronous)

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """One transaction that may write; commits on success, rolls back on any exception."""
        with self._transaction(write=True) as conn:
            fencing.check(conn)
            yield conn

    @contextmanager
    def joined(self, tx: Connection | None) -> Iterator[Connection]:
        """Join the caller's transaction ``tx`` when given, else run in a write transaction of our own.

        Stores take ``tx`` so that writes of several stores (a quarantine entry and the ledger stage
        that points at it) commit together or not at all.
        """
        if tx is not None:
            yield tx
        else:
            with self.write() as conn:
                yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """One read-only transaction: a consistent snapshot for several queries."""
        with self._transaction(write=False) as conn:
            yield conn

    @contextmanager
    def _transaction(self, *, write: bool) -> Iterator[Connection]:
        try:
            with self.engine.connect() as conn:
                conn = conn.execution_options(**{_WRITE_OPTION: write})
                with conn.begin():
                    yield conn
        except SQLAlchemyError as exc:
            raise self._wrap(exc) from exc

    def _wrap(self, exc: SQLAlchemyError) -> StateStoreError:
        detail = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        if not self.is_sqlite:
            return StateStoreError(
                f"the state database {self.location} failed: {detail}",
                hint="check that the PostgreSQL server is running and reachable from this machine, that "
                "the database exists, and that the state_store_credential in the vault can log in")
        return StateStoreError(
            f"the state database {self.location} failed: {detail}",
            hint="check that the disk is not full and the file is readable and writable by the router; "
            "if it is corrupt, restore it from a backup",
        )

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()

"""The database layer: SQLite pragmas, schema versioning, portable DDL, errors with hints."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy.dialects import postgresql
from sqlalchemy.schema import CreateIndex, CreateTable

from router.clock import FrozenClock
from router.errors import StateStoreError
from router.home import Home
from router.state import Database, StateStore, sqlite_url
from router.state.schema import metadata, sync_mailboxes


@pytest.fixture
def sqlite_store(tmp_path: Path, clock: FrozenClock) -> Iterator[StateStore]:
    """A store on SQLite only, for the pragmas PostgreSQL has no counterpart of."""
    with StateStore.open(sqlite_url(tmp_path / "state.sqlite"), clock) as opened:
        yield opened


def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(sqlite_store: StateStore) -> None:
    with sqlite_store.db.read() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30_000
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_full_synchronous_mode_can_be_chosen(tmp_path: Path, clock: FrozenClock) -> None:
    db_url = sqlite_url(tmp_path / "state.sqlite")
    with StateStore.open(db_url, clock, synchronous="FULL") as store, store.db.read() as conn:
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2


def test_unknown_synchronous_mode_is_refused(db_url: str) -> None:
    with pytest.raises(StateStoreError, match="synchronous"):
        Database(db_url, synchronous="OFF")


def test_a_write_that_fails_is_rolled_back_whole(store: StateStore) -> None:
    with pytest.raises(RuntimeError), store.db.write() as tx:
        store.sync.save_state("a@x.test", "inbox", "S1", tx=tx)
        raise RuntimeError("crash between two writes")
    assert store.sync.get_state("a@x.test", "inbox") is None


def test_reopening_keeps_the_data(db_url: str, clock: FrozenClock) -> None:
    with StateStore.open(db_url, clock) as store:
        store.sync.save_state("a@x.test", "inbox", "S1")
    with StateStore.open(db_url, clock) as store:
        assert store.sync.get_state("a@x.test", "inbox") == "S1"


def test_open_home_uses_the_home_state_file(tmp_path: Path, clock: FrozenClock) -> None:
    home = Home(tmp_path / "home")
    with StateStore.open_home(home, clock) as store:
        store.sync.save_state("a@x.test", "inbox", "S1")
    assert home.state_db.is_file()


def test_a_file_that_is_not_a_database_gives_a_clear_error(tmp_path: Path, clock: FrozenClock) -> None:
    path = tmp_path / "state.sqlite"
    path.write_bytes(b"this is not a database, just some text that happens to be here" * 100)
    with pytest.raises(StateStoreError) as caught:
        StateStore.open(sqlite_url(path), clock)
    assert str(path) in str(caught.value)
    assert "backup" in caught.value.hint


def test_a_bad_url_gives_a_clear_error() -> None:
    with pytest.raises(StateStoreError, match="cannot open the state database"):
        Database("nosuchdialect://x/y")


def test_timestamps_come_back_aware_in_utc(store: StateStore) -> None:
    plus_two = timezone(timedelta(hours=2))
    store.sync.set_process_from("a@x.test", datetime(2026, 3, 2, 11, 0, tzinfo=plus_two))
    assert store.sync.process_from("a@x.test") == datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    assert store.sync.process_from("a@x.test").tzinfo is UTC  # type: ignore[union-attr]


def test_naive_timestamps_are_refused(store: StateStore) -> None:
    with pytest.raises(StateStoreError), store.db.write() as tx:
        tx.execute(sync_mailboxes.insert().values(mailbox="a@x.test", process_from=datetime(2026, 1, 1),
                                                  updated_at=datetime(2026, 1, 1)))


def test_the_schema_compiles_for_postgresql() -> None:
    dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
    for table in metadata.sorted_tables:
        ddl = str(CreateTable(table).compile(dialect=dialect))
        assert "TIMESTAMP WITH TIME ZONE" in ddl or table.name in ("schema_meta", "")
        for index in table.indexes:
            assert "CREATE INDEX" in str(CreateIndex(index).compile(dialect=dialect))


def test_an_in_memory_database_works_for_one_thread(clock: FrozenClock) -> None:
    with StateStore.open("sqlite://", clock) as store:
        store.sync.save_state("a@x.test", "inbox", "S1")
        assert store.sync.get_state("a@x.test", "inbox") == "S1"


def test_the_pool_has_room_for_every_worker(db_url: str, clock: FrozenClock) -> None:
    with StateStore.open(db_url, clock, pool_size=3) as store:
        connections = [store.db.engine.connect() for _ in range(6)]
        try:
            assert store.db.engine.pool.checkedout() == 6  # type: ignore[attr-defined]
        finally:
            for conn in connections:
                conn.close()

"""Schema migrations (Alembic): a fresh database, a pre-Alembic SQLite home, older and newer revisions."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, select, text
from sqlalchemy.engine import make_url

from router.clock import FrozenClock
from router.errors import StateStoreError
from router.state import Database, Direction, StateStore
from router.state.migrate import MIGRATE_COMMAND, _config, head_revision
from router.state.schema import SCHEMA_VERSION, metadata, schema_meta, sync_mailboxes


def _at_revision(url: str, revision: str, *, pre_alembic: bool = False) -> None:
    """Leave the database at ``revision`` with one sync row; ``pre_alembic`` drops Alembic's own table."""
    db = Database(url)
    try:
        with db.write() as conn:
            command.upgrade(_config(conn), revision)
            now = datetime(2026, 1, 1, tzinfo=UTC)
            conn.execute(sync_mailboxes.insert().values(mailbox="a@x.test", process_from=now, updated_at=now))
            if pre_alembic:
                conn.execute(text("DROP TABLE alembic_version"))
    finally:
        db.dispose()


def test_a_fresh_database_gets_the_whole_history_matching_the_tables(db_url: str, clock: FrozenClock) -> None:
    with StateStore.open(db_url, clock) as store, store.db.read() as conn:
        assert MigrationContext.configure(conn).get_current_revision() == head_revision()
        assert conn.execute(select(schema_meta.c.value)).scalar_one() == str(SCHEMA_VERSION)
        # The migrations build exactly the tables the code declares, on either engine.
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []


def test_a_home_from_before_the_history_upgrades_in_place(db_url: str, clock: FrozenClock) -> None:
    _at_revision(db_url, "0001", pre_alembic=True)
    with StateStore.open(db_url, clock, upgrade=True) as store, store.db.read() as conn:
        assert MigrationContext.configure(conn).get_current_revision() == head_revision()
        assert inspect(conn).has_table("instances")
        assert store.sync.process_from("a@x.test") == datetime(2026, 1, 1, tzinfo=UTC)


def test_a_sqlite_home_upgrades_when_it_opens(tmp_path: object, clock: FrozenClock) -> None:
    url = f"sqlite:///{tmp_path}/state.sqlite"
    _at_revision(url, "0001", pre_alembic=True)
    with StateStore.open(url, clock) as store:
        assert store.sync.process_from("a@x.test") is not None


def test_an_older_postgresql_database_is_refused_with_the_migrate_command(postgres_url: str,
                                                                          clock: FrozenClock) -> None:
    _at_revision(postgres_url, "0001")
    with pytest.raises(StateStoreError, match="schema revision 0001") as caught:
        StateStore.open(postgres_url, clock)
    assert MIGRATE_COMMAND in caught.value.hint
    assert str(make_url(postgres_url).database) in str(caught.value)
    with StateStore.open(postgres_url, clock, upgrade=True) as store:
        assert store.sync.process_from("a@x.test") is not None


def test_a_revision_from_a_newer_router_is_refused(db_url: str, clock: FrozenClock) -> None:
    with StateStore.open(db_url, clock) as store, store.db.write() as tx:
        tx.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    with pytest.raises(StateStoreError, match="newer email-router") as caught:
        StateStore.open(db_url, clock, upgrade=True)
    assert caught.value.hint


def test_a_failure_streak_from_before_version_4_keeps_an_unknown_start(db_url: str,
                                                                       clock: FrozenClock) -> None:
    _at_revision(db_url, "0003")
    db = Database(db_url)
    try:
        with db.write() as conn:
            conn.execute(text("INSERT INTO mailbox_health (mailbox, direction, status, consecutive_failures, "
                              "stopped) VALUES ('a@x.test', 'incoming', 'failure', 3, false)"))
    finally:
        db.dispose()
    with StateStore.open(db_url, clock, upgrade=True) as store:
        before = store.health.get("a@x.test", Direction.INCOMING)
        assert (before.consecutive_failures, before.failing_since) == (3, None)
        after = store.health.record_failure("a@x.test", Direction.INCOMING, error="still busy").after
        assert (after.consecutive_failures, after.failing_since) == (4, None)  # Not guessed.
        assert store.health.record_failure("b@x.test", Direction.INCOMING, error="busy").after.failing_since \
            == clock.now()

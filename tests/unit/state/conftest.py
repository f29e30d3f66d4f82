"""Fixtures of the state store tests: a store on a fresh SQLite file or PostgreSQL database, frozen clock."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from router.clock import FrozenClock
from router.state import StateStore, sqlite_url

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(T0)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Every state store test runs against both engines: a SQLite file and a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return sqlite_url(tmp_path / "state.sqlite")
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def store(db_url: str, clock: FrozenClock) -> Iterator[StateStore]:
    with StateStore.open(db_url, clock) as opened:
        yield opened

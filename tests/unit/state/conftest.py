"""Fixtures of the state store tests: a store on a fresh SQLite file with a frozen clock."""

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


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return sqlite_url(tmp_path / "state.sqlite")


@pytest.fixture
def store(db_url: str, clock: FrozenClock) -> Iterator[StateStore]:
    with StateStore.open(db_url, clock) as opened:
        yield opened

"""Fixtures shared by every test package."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from router.home import Home
from tests.support.ews_simulator import SCHEMA_MISSING
from tests.support.postgres import PostgresServer, start_server
from tests.support.schema import find_schema_dir


def pytest_report_header(config: pytest.Config) -> str:
    """Say once whether the simulator's traffic is validated against the EWS schema in this run."""
    directory = find_schema_dir()
    return SCHEMA_MISSING if directory is None else f"EWS schema: validating against {directory}"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Home:
    """A fresh home directory, also exported as EMAIL_ROUTER_HOME for CLI invocations."""
    root = tmp_path / "home"
    monkeypatch.setenv("EMAIL_ROUTER_HOME", str(root))
    return Home(root)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One PostgreSQL server for the whole run, shared by the pytest-xdist workers (see tests/support)."""
    server = start_server(os.environ.get("PYTEST_XDIST_TESTRUNUID") or f"pid{os.getpid()}")
    yield server
    server.stop()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A fresh, empty PostgreSQL database of its own for one test, dropped afterwards."""
    url = postgres_server.create_database("router_test")
    yield url
    postgres_server.drop_database(url)

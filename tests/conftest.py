"""Fixtures shared by every test package."""

from __future__ import annotations

from pathlib import Path

import pytest

from router.home import Home
from router.simulator.validation import find_schema_dir
from tests.support.ews_simulator import SCHEMA_MISSING


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

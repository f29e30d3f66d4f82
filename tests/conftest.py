"""Fixtures shared by every test package."""

from __future__ import annotations

from pathlib import Path

import pytest

from router.home import Home


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Home:
    """A fresh home directory, also exported as EMAIL_ROUTER_HOME for CLI invocations."""
    root = tmp_path / "home"
    monkeypatch.setenv("EMAIL_ROUTER_HOME", str(root))
    return Home(root)

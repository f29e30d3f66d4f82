"""Fixtures for the legacy importer tests: the sample files under ``data/``."""

from __future__ import annotations

from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"
CANARIES = ("CANARY-ENCRYPTED-7f3a9c", "CANARY-ENCRYPTED-51d0e2", "CANARY-ENCRYPTED-c4b8aa",
            "CANARY-PROXY-SECRET-99")
"""Password placeholders planted in the sample files; none may ever appear in any output."""


@pytest.fixture
def data() -> Path:
    """The directory of sample legacy files."""
    return DATA

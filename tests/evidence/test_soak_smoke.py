"""A tiny fault soak (what `scripts/soak` runs): faults and SIGKILLs, then nothing lost or duplicated."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.evidence.soak_kit import assert_nothing_lost_or_duplicated, tiny_soak

pytestmark = pytest.mark.slow


def test_tiny_soak_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    verdict, said = tiny_soak(tmp_path, drain_seconds=90.0)
    assert sum(1 for line in said if line.startswith("SIGKILL")) == verdict.kills
    assert_nothing_lost_or_duplicated(verdict)

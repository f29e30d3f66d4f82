"""The tiny fault soak over Microsoft Graph (`scripts/soak --transport graph`): the same faults answered
Graph's way (429 with Retry-After, 503, 500, dropped connections, slow answers) and SIGKILLs; nothing
lost or duplicated, with the same verdict as over EWS."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.evidence.soak_kit import assert_nothing_lost_or_duplicated, tiny_soak

pytestmark = pytest.mark.slow


def test_tiny_graph_soak_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    verdict, _ = tiny_soak(tmp_path, drain_seconds=120.0, transport="graph")
    # The faults hit Graph requests: the count is of the simulator's Graph request log, not of EWS's.
    assert verdict.requests_under_faults > 0 and sum(verdict.fault_hits.values()) > 0
    assert_nothing_lost_or_duplicated(verdict)

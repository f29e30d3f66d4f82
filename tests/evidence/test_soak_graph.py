"""The tiny fault soak over Microsoft Graph (`scripts/soak --transport graph`): the same faults answered
Graph's way (429 with Retry-After, 503, 500, dropped connections, slow answers) and SIGKILLs; nothing
lost or duplicated, with the same verdict as over EWS."""

from __future__ import annotations

from pathlib import Path

import pytest

from router.soak.run import run_soak
from router.soak.settings import SoakSettings

pytestmark = pytest.mark.slow


def test_tiny_graph_soak_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    settings = SoakSettings(inbound=30, outbound=12, mailboxes=3, feed_seconds=4.0, fault_rate=0.1,
                            kill_min_seconds=1.5, kill_max_seconds=3.0, min_kills=2, drain_seconds=120.0,
                            sends_during_kills=True, transport="graph")
    said: list[str] = []
    verdict = run_soak(settings, tmp_path, said.append)
    assert verdict.kills >= 2
    assert verdict.injected == 30 and verdict.composed == 12
    # The faults hit Graph requests: the count is of the simulator's Graph request log, not of EWS's.
    assert verdict.requests_under_faults > 0 and sum(verdict.fault_hits.values()) > 0
    assert verdict.lost_inbound == [] and verdict.duplicate_activities == 0
    assert verdict.lost_sends == [] and verdict.duplicate_sends == 0
    assert verdict.delivered == 30 and verdict.quarantine == []
    assert verdict.unexplained_redeliveries == []
    assert verdict.received_by_recipients == 12
    assert verdict.passed

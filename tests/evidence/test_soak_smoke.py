"""A tiny fault soak (what `scripts/soak` runs): faults and SIGKILLs, then nothing lost or duplicated."""

from __future__ import annotations

from pathlib import Path

import pytest

from router.soak.run import run_soak
from router.soak.settings import SoakSettings

pytestmark = pytest.mark.slow


def test_tiny_soak_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    # Sends go on during the kills: a restarted router takes back the claims of the one it replaces at
    # once, so a send in flight at a kill does not wait out the 5-minute claim lease.
    settings = SoakSettings(inbound=30, outbound=12, mailboxes=3, feed_seconds=4.0, fault_rate=0.1,
                            kill_min_seconds=1.5, kill_max_seconds=3.0, min_kills=2, drain_seconds=90.0,
                            sends_during_kills=True)
    said: list[str] = []
    verdict = run_soak(settings, tmp_path, said.append)
    assert verdict.kills >= 2 and sum(1 for line in said if line.startswith("SIGKILL")) == verdict.kills
    assert verdict.injected == 30 and verdict.composed == 12
    assert verdict.lost_inbound == [] and verdict.duplicate_activities == 0
    assert verdict.lost_sends == [] and verdict.duplicate_sends == 0
    # Counted from the CRM's call journal: quarantined messages are not excused.
    assert verdict.delivered == 30 and verdict.quarantine == []
    assert verdict.unexplained_redeliveries == []
    assert verdict.received_by_recipients == 12
    assert verdict.passed

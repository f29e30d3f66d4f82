"""The state database gone for a minute under two running instances: lanes pause, an alert opens,
nothing is lost or duplicated, and the work resumes by itself (counted from the CRM's call journal and
the simulator's outbound journal; lane holders read from the database itself, past the cut)."""

from __future__ import annotations

from pathlib import Path

import pytest

from router.soak.run import run_soak
from router.soak.settings import SoakSettings

pytestmark = [pytest.mark.flow, pytest.mark.slow]

LEASE = 6.0
OUTAGE = 60.0


def test_the_database_gone_for_a_minute_pauses_the_lanes_and_loses_nothing(postgres_url: str,
                                                                           tmp_path: Path) -> None:
    said: list[str] = []
    settings = SoakSettings(inbound=60, outbound=12, mailboxes=3, feed_seconds=20, fault_rate=0.01,
                            kill_min_seconds=1000, kill_max_seconds=1000, min_kills=0, drain_seconds=180,
                            instances=2, lease_seconds=LEASE, db_outage_seconds=OUTAGE)
    verdict = run_soak(settings, tmp_path, said.append, postgres_url)
    report = "\n".join(said)
    assert verdict.lanes_paused_after_seconds is not None, report
    assert verdict.lanes_paused_after_seconds <= LEASE + 1, report  # No lease outlives the cut.
    assert verdict.work_resumed_after_seconds is not None, report
    assert verdict.work_resumed_after_seconds <= LEASE, report
    assert verdict.state_store_alerts >= 1, report  # Each instance says how long it was cut off.
    assert verdict.delivered == verdict.injected == 60 and not verdict.lost_inbound, report
    assert verdict.duplicate_activities == 0 and not verdict.unexplained_redeliveries, report
    assert verdict.received_by_recipients == verdict.composed == 12 and verdict.duplicate_sends == 0, report
    assert verdict.passed, report

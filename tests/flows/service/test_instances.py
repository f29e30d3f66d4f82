"""Three `email-router run` instances on one PostgreSQL database against the EWS simulator, abused.

The soak's fleet drives real processes: the lanes spread evenly; a SIGKILLed instance's lanes are served
by live runs again within the lease; an instance SIGSTOPped past its lease and then SIGCONTed neither
delivers nor sends twice; a graceful stop hands its lanes over at once. Deliveries are counted from
the CRM's call journal and sends from the simulator's outbound journal, never from the router's state.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from router.soak.run import run_soak
from router.soak.settings import SoakSettings

pytestmark = [pytest.mark.flow, pytest.mark.slow]

LEASE = 6.0
TURN = LEASE / 6
"""The lease keeper's period: a free lane waits at most this long for an instance to take it."""


def test_three_instances_share_the_lanes_and_survive_kills_and_pauses(postgres_url: str,
                                                                      tmp_path: Path) -> None:
    said: list[str] = []
    settings = SoakSettings(inbound=120, outbound=24, mailboxes=6, feed_seconds=20, fault_rate=0.02,
                            kill_min_seconds=2, kill_max_seconds=4, min_kills=3, drain_seconds=180,
                            instances=3, lease_seconds=LEASE)
    verdict = run_soak(settings, tmp_path, said.append, postgres_url)
    report = "\n".join(said)
    assert sorted(verdict.lane_spread_at_start) == [4, 4, 4], report  # 6 mailboxes x 2 directions
    assert (verdict.kills, verdict.pauses, verdict.graceful_stops) >= (1, 1, 1), report
    assert verdict.lanes_unrecovered == 0, report
    assert verdict.recovery_seconds_max is not None and verdict.recovery_seconds_max <= LEASE + 2 * TURN + 1
    assert verdict.handover_seconds_max is not None and verdict.handover_seconds_max <= 2 * TURN + 1
    assert verdict.delivered == verdict.injected == 120 and not verdict.lost_inbound, report
    assert verdict.duplicate_activities == 0 and not verdict.unexplained_redeliveries, report
    assert verdict.received_by_recipients == verdict.composed == 24 and not verdict.lost_sends, report
    assert verdict.duplicate_sends == 0, report
    assert verdict.passed

"""The tiny fault soak the evidence tests run on each transport, and what its verdict must say."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from router.soak.audit import Verdict
from router.soak.run import run_soak
from router.soak.settings import SoakSettings

INBOUND, OUTBOUND = 30, 12
TINY: dict[str, Any] = {
    "inbound": INBOUND, "outbound": OUTBOUND, "mailboxes": 3, "feed_seconds": 4.0, "fault_rate": 0.1,
    "kill_min_seconds": 1.5, "kill_max_seconds": 3.0, "min_kills": 2,
    # Sends go on during the kills: a restarted router takes back the claims of the one it replaces at
    # once, so a send in flight at a kill does not wait out the 5-minute claim lease.
    "sends_during_kills": True,
}


def tiny_soak(workdir: Path, **overrides: Any) -> tuple[Verdict, list[str]]:
    """Run the tiny soak (``TINY`` with ``overrides``); its verdict and what it said."""
    said: list[str] = []
    return run_soak(SoakSettings(**(TINY | overrides)), workdir, said.append), said


def assert_nothing_lost_or_duplicated(verdict: Verdict) -> None:
    """Every injected message is one CRM activity and every composed email reached its recipients
    once, through at least two SIGKILLs."""
    assert verdict.kills >= 2
    assert verdict.injected == INBOUND and verdict.composed == OUTBOUND
    assert verdict.lost_inbound == [] and verdict.duplicate_activities == 0
    assert verdict.lost_sends == [] and verdict.duplicate_sends == 0
    # Counted from the CRM's call journal: quarantined messages are not excused.
    assert verdict.delivered == INBOUND and verdict.quarantine == []
    assert verdict.unexplained_redeliveries == []
    assert verdict.received_by_recipients == OUTBOUND
    assert verdict.passed

"""Reading the SystemState file: threshold dates, and the reprocessing-storm guard (KB 2491350)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from router.legacy import FindingKind, Severity, ThresholdStatus, read_installation


def test_state_entries_carry_aware_thresholds(data: Path) -> None:
    installation = read_installation([data / "full" / "Microsoft.Crm.Tools.EmailAgent.SystemState.xml"])
    (state,) = installation.states
    assert state.root == "SystemState"
    alice, forward, bob = state.mailboxes
    assert alice.email_address == "alice@contoso.test" and alice.key == "hzdzpo6bojytfabbohbc41r4rjho"
    assert alice.threshold == datetime(2024, 3, 18, 9, 15, 42, 123456, tzinfo=UTC)
    assert alice.threshold_status is ThresholdStatus.VALID and alice.last_error is None
    assert forward.last_error == "The request failed with HTTP status 503: Service Unavailable."
    assert bob.threshold == datetime(2024, 2, 29, 23, 0, tzinfo=UTC)


def test_reset_threshold_is_never_a_date(data: Path) -> None:
    installation = read_installation([data / "full" / "Microsoft.Crm.Tools.EmailAgent.SystemState.xml"])
    forward = installation.mailbox_states[1]
    assert forward.threshold is None and forward.threshold_status is ThresholdStatus.RESET
    (reset,) = [f for f in installation.findings if f.kind is FindingKind.THRESHOLD_RESET]
    assert reset.path == "/SystemState/hc7huh096asdikakwriugmr3p1bk/thresholddate"
    assert "KB 2491350" in reset.message and "never from the beginning" in reset.message
    (naive,) = [f for f in installation.findings if f.kind is FindingKind.THRESHOLD_ASSUMED_UTC]
    assert naive.severity is Severity.INFO and naive.line == 17


def test_state_problems_are_each_reported(data: Path) -> None:
    installation = read_installation([data / "bad" / "state-problems.xml"])
    (state,) = installation.states
    assert state.root == "RouterState", "recognised by its entries, not by its root's name"
    dave, erin, orphan, frank = state.mailboxes
    assert dave.threshold_status is ThresholdStatus.INVALID and dave.threshold is None
    assert erin.threshold_status is ThresholdStatus.MISSING
    assert orphan.email_address is None
    assert frank.threshold_status is ThresholdStatus.MISSING, "the first of two dates is the one read"
    kinds = {(f.path, f.kind) for f in installation.findings}
    root = "/RouterState"
    assert (f"{root}/aaaaaaaaaaaaaaaaaaaaaaaaaaaa/thresholddate", FindingKind.THRESHOLD_INVALID) in kinds
    assert (f"{root}/bbbbbbbbbbbbbbbbbbbbbbbbbbbb", FindingKind.THRESHOLD_MISSING) in kinds
    assert (f"{root}/bbbbbbbbbbbbbbbbbbbbbbbbbbbb/noemailcount", FindingKind.UNMAPPED_ELEMENT) in kinds
    assert (f"{root}/cccccccccccccccccccccccccccc", FindingKind.BAD_VALUE) in kinds
    assert (f"{root}/dddddddddddddddddddddddddddd/thresholddate[1]", FindingKind.THRESHOLD_MISSING) in kinds
    assert (f"{root}/dddddddddddddddddddddddddddd/thresholddate[2]", FindingKind.DUPLICATE) in kinds
    assert (f"{root}/Version", FindingKind.UNMAPPED_ELEMENT) in kinds

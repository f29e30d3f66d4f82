"""Process-from decisions from SystemState threshold dates, and the folding of legacy names."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from router.legacy import FindingKind, read_installation
from router.legacy.model import LegacyInstallation, LegacyMailboxState, LegacySystemState, ThresholdStatus
from router.legacy.names import NameBook, fold
from router.legacy.thresholds import ThresholdBook

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def _entry(address: str, threshold: datetime | None, path: str) -> LegacyMailboxState:
    status = ThresholdStatus.VALID if threshold else ThresholdStatus.RESET
    return LegacyMailboxState(file="s.xml", path=path, line=1, key="k", email_address=address,
                              last_error=None, threshold=threshold, threshold_status=status)


def test_valid_threshold_is_carried_and_reset_one_starts_now(data: Path) -> None:
    installation = read_installation([data / "full" / "Microsoft.Crm.Tools.EmailAgent.SystemState.xml"])
    book = ThresholdBook(installation, NOW)
    alice = book.process_from("ALICE@contoso.test")
    assert alice.instant == datetime(2024, 3, 18, 9, 15, 42, 123456, tzinfo=UTC) and alice.from_legacy
    forward = book.process_from("crm-forward@contoso.test")
    assert forward.instant == NOW and not forward.from_legacy, "0001-01-01 never means 'everything'"
    missing = book.process_from("zoe@contoso.test")
    assert missing.instant == NOW
    assert [f.kind for f in book.findings] == [FindingKind.THRESHOLD_MISSING]
    assert [f.value for f in book.unused()] == ["bob@contoso.test"]
    assert book.summary() == []


def test_no_state_file_means_every_mailbox_starts_now() -> None:
    book = ThresholdBook(LegacyInstallation(), NOW)
    assert book.summary() == [], "no mailbox, nothing to say"
    assert book.process_from("a@x.test").instant == NOW
    assert book.findings == []
    (summary,) = book.summary()
    assert "no SystemState file" in summary.message and summary.where() == "(import)"


def test_duplicate_entries_keep_the_later_date_and_future_dates_are_clamped() -> None:
    early, late = datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 6, 1, tzinfo=UTC)
    state = LegacySystemState(file="s.xml", root="SystemState", mailboxes=(
        _entry("a@x.test", late, "/S/one"), _entry("a@x.test", early, "/S/two"),
        _entry("a@x.test", None, "/S/three"), _entry("f@x.test", datetime(2030, 1, 1, tzinfo=UTC), "/S/f")))
    book = ThresholdBook(LegacyInstallation(states=(state,)), NOW)
    assert book.process_from("a@x.test").instant == late
    assert [f.path for f in book.findings] == ["/S/two", "/S/three"]
    assert book.process_from("f@x.test").instant == NOW
    assert book.findings[-1].kind is FindingKind.THRESHOLD_INVALID


def test_names_are_folded_and_unique() -> None:
    assert fold("Exchange incoming (main)") == "Exchange-incoming-main"
    assert fold("CONTOSO\\svc-crmrouter", allow_at=True) == "CONTOSO.svc-crmrouter"
    assert fold("router@contoso.test", allow_at=True) == "router@contoso.test"
    assert fold("router@contoso.test") == "router-contoso.test"
    book = NameBook()
    assert [book.claim("Online", "p"), book.claim("online", "p"), book.claim("***", "profile")] == [
        "Online", "online-2", "profile"]
    assert len(NameBook().claim("x" * 200, "p")) <= 64

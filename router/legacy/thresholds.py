"""Decide each imported mailbox's process-from instant from the legacy SystemState threshold dates.

Switching routers must re-import nothing. A mailbox whose SystemState entry holds a usable threshold
date continues from exactly that instant. Every other case — no SystemState file, no entry for the
mailbox, an empty or unreadable date, or the ``0001-01-01`` reset value behind the KB 2491350
reprocessing storm — starts from the moment of the import, never from the beginning of the mailbox,
and is reported so the admin can backfill a window on purpose.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from router.legacy.model import (
    Finding,
    FindingKind,
    LegacyInstallation,
    LegacyMailboxState,
    Severity,
    ThresholdStatus,
)

BACKFILL_HINT = "`email-router backfill MAILBOX --since DATE` re-imports an earlier window on purpose"


@dataclass(frozen=True)
class ProcessFrom:
    """The instant a mailbox starts from, and whether it came from the legacy threshold date."""

    instant: datetime
    from_legacy: bool


class ThresholdBook:
    """The usable threshold date of every mailbox address in the SystemState files, with findings."""

    def __init__(self, installation: LegacyInstallation, now: datetime) -> None:
        self.now = now
        self.has_state = bool(installation.states)
        self.findings: list[Finding] = []
        self._entries: dict[str, LegacyMailboxState] = {}
        self._used: set[str] = set()
        for entry in installation.mailbox_states:
            self._index(entry)

    def _index(self, entry: LegacyMailboxState) -> None:
        """Keep one entry per address: the one with the latest usable date, reporting the others."""
        if entry.email_address is None:
            return
        kept = self._entries.get(entry.email_address)
        if kept is None:
            self._entries[entry.email_address] = entry
            return
        winner, loser = (entry, kept) if _later(entry, kept) else (kept, entry)
        self._entries[entry.email_address] = winner
        self.findings.append(Finding(
            file=loser.file, path=loser.path, kind=FindingKind.DUPLICATE, line=loser.line,
            message=f"a second SystemState entry for {entry.email_address}: the later threshold date "
            f"(from {winner.path}) is used, so nothing is processed twice"))

    def process_from(self, address: str) -> ProcessFrom:
        """Return where ``address`` starts, recording a finding when it is not the legacy date."""
        address = address.lower()
        self._used.add(address)
        entry = self._entries.get(address)
        if entry is None or entry.threshold_status is not ThresholdStatus.VALID or entry.threshold is None:
            if entry is None and self.has_state:
                self.findings.append(Finding(
                    file="", path=address, kind=FindingKind.THRESHOLD_MISSING, severity=Severity.WARNING,
                    message=f"no SystemState entry for {address}: it starts at the import time; "
                    f"{BACKFILL_HINT}"))
            return ProcessFrom(self.now, from_legacy=False)
        if entry.threshold > self.now:
            self.findings.append(Finding(
                file=entry.file, path=f"{entry.path}/thresholddate", kind=FindingKind.THRESHOLD_INVALID,
                line=entry.line, value=entry.threshold.isoformat(),
                message="threshold date lies in the future: the import time is used instead"))
            return ProcessFrom(self.now, from_legacy=False)
        return ProcessFrom(entry.threshold, from_legacy=True)

    def unused(self) -> list[Finding]:
        """Return a finding for each SystemState entry that matched no imported mailbox."""
        return [Finding(file=e.file, path=e.path, kind=FindingKind.UNSUPPORTED, line=e.line,
                        severity=Severity.INFO, value=address,
                        message=f"SystemState entry for {address} matches no imported mailbox: not used")
                for address, e in self._entries.items() if address not in self._used]

    def summary(self) -> list[Finding]:
        """Return the import-level finding when mailboxes were imported but no SystemState was given."""
        if self.has_state or not self._used:
            return []
        return [Finding(file="", path="", kind=FindingKind.THRESHOLD_MISSING, severity=Severity.WARNING,
                        message="no SystemState file was given: every mailbox starts at the import time, "
                        f"never from the beginning of the mailbox; {BACKFILL_HINT}")]


def _later(a: LegacyMailboxState, b: LegacyMailboxState) -> bool:
    """True when ``a`` holds a usable threshold later than ``b``'s (or ``b`` has none)."""
    if a.threshold is None:
        return False
    return b.threshold is None or a.threshold > b.threshold

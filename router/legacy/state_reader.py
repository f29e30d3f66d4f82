"""Read ``Microsoft.Crm.Tools.EmailAgent.SystemState.xml``: each mailbox's high-water mark.

The file holds one entry per mailbox, named by an opaque identity hash, with lower-case children
``emailaddress``, ``lasterror`` and ``thresholddate`` (reference §2.5; the CRM India team blog shows
entries such as ``<hzdzpo6bojytfabbohbc41r4rjho>``). Its root element is not documented, so a file is
recognised as SystemState by its shape: entries that carry those children.

The threshold date matters most. KB 2491350: an upgrade reset it to ``0001-01-01`` and the router
reprocessed every mail in every mailbox. Such a date is therefore never read as "process everything":
it is marked RESET (and reported), exactly like a missing or unreadable date.
"""

from __future__ import annotations

from datetime import UTC, datetime

from lxml import etree

from router.legacy.collect import Collector, shorten
from router.legacy.model import (
    FindingKind,
    LegacyMailboxState,
    LegacySystemState,
    Severity,
    ThresholdStatus,
)
from router.legacy.xmlfile import child_elements, local_name, source_line, xml_path

STATE_FIELDS = frozenset({"emailaddress", "lasterror", "thresholddate"})

_NO_REPROCESS = ("the mailbox will start from the time of the import, never from the beginning of the "
                 "mailbox; use `email-router backfill MAILBOX --since DATE` to re-import a window on purpose")


def is_state_entry(element: etree._Element) -> bool:
    """Return True when ``element`` looks like a SystemState mailbox entry."""
    return any(local_name(child).lower() in STATE_FIELDS for child in child_elements(element))


def looks_like_state(root: etree._Element) -> bool:
    """Return True when a document's root is a SystemState root: named so, or holding mailbox entries."""
    if "state" in local_name(root).lower():
        return True
    return any(is_state_entry(child) for child in child_elements(root))


def parse_threshold(collector: Collector, element: etree._Element) -> tuple[datetime | None, ThresholdStatus]:
    """Return the aware threshold datetime and its status, reporting anything but a usable date."""
    text = collector.leaf_text(element)
    if text is None:
        collector.add(element, FindingKind.THRESHOLD_MISSING, f"threshold date is empty: {_NO_REPROCESS}")
        return None, ThresholdStatus.MISSING
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        collector.add(element, FindingKind.THRESHOLD_INVALID,
                      f"threshold date is not a date: {_NO_REPROCESS}", value=shorten(text))
        return None, ThresholdStatus.INVALID
    if moment.year <= 1:
        collector.add(element, FindingKind.THRESHOLD_RESET,
                      "threshold date is 0001-01-01, the reset value that made the legacy router reprocess "
                      f"whole mailboxes (KB 2491350): {_NO_REPROCESS}", value=shorten(text))
        return None, ThresholdStatus.RESET
    if moment.tzinfo is None:
        collector.add(element, FindingKind.THRESHOLD_ASSUMED_UTC,
                      "threshold date has no time zone: read as UTC, as the legacy router wrote it",
                      severity=Severity.INFO, value=shorten(text))
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC), ThresholdStatus.VALID


def read_entry(collector: Collector, element: etree._Element) -> LegacyMailboxState:
    """Read one mailbox entry."""
    collector.check_attributes(element)
    collector.check_container_text(element)
    address: str | None = None
    last_error: str | None = None
    threshold: tuple[datetime | None, ThresholdStatus] | None = None
    seen: set[str] = set()
    for child in child_elements(element):
        name = local_name(child).lower()
        if name not in STATE_FIELDS:
            collector.unmapped(child, "a SystemState mailbox entry")
            continue
        if name in seen:
            collector.duplicate(child)
            continue
        seen.add(name)
        if name == "emailaddress":
            address = (collector.leaf_text(child) or "").lower() or None
        elif name == "lasterror":
            last_error = collector.leaf_text(child)
        else:
            threshold = parse_threshold(collector, child)
    if threshold is None:
        collector.add(element, FindingKind.THRESHOLD_MISSING,
                      f"mailbox entry has no <thresholddate>: {_NO_REPROCESS}")
        threshold = (None, ThresholdStatus.MISSING)
    if address is None:
        collector.add(element, FindingKind.BAD_VALUE,
                      "mailbox entry has no <emailaddress>, so it cannot be matched to a mailbox: ignored")
    return LegacyMailboxState(
        file=collector.file, path=xml_path(element), line=source_line(element), key=local_name(element),
        email_address=address, last_error=last_error, threshold=threshold[0], threshold_status=threshold[1])


def read_system_state(collector: Collector, root: etree._Element) -> LegacySystemState:
    """Read a whole SystemState document whose root is ``root``."""
    collector.check_attributes(root)
    collector.check_container_text(root)
    entries = []
    for child in child_elements(root):
        if is_state_entry(child):
            entries.append(read_entry(collector, child))
        else:
            collector.unmapped(child, f"<{local_name(root)}> (not a mailbox entry)")
    return LegacySystemState(file=collector.file, root=local_name(root), mailboxes=tuple(entries))

"""What `email-router status` shows, read from the state store alone (no running service needed).

Per mailbox and direction: whether the service serves it (and why not, from the mailbox directory it
last resolved), its health (status, last success, last error, consecutive failures, stopped), its
backlog (incoming messages claimed but not finished in the ledger; outgoing emails claimed but not
recorded), and its traffic over the last hour (delivered to the CRM in, accepted by Exchange out).
Then every open alert. ``collect_status(store)`` builds the ``StatusReport``; ``to_json`` is the
``--json`` document, stable for scripts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from router.state import Alert, DirectoryRow, MailboxHealth, StateStore, TrafficCounts
from router.state import Direction as StateDirection

NOT_IN_DIRECTORY = "not in the mailbox directory the service last resolved (no longer bound or listed)"


@dataclass(frozen=True)
class DirectionStatus:
    """One direction of one mailbox."""

    served: bool
    reason: str
    profile: str | None
    health: MailboxHealth
    backlog: int
    last_hour: int

    def to_json(self) -> dict[str, Any]:
        """The JSON object of this direction."""
        h = self.health
        return {"served": self.served, "reason": self.reason, "profile": self.profile,
                "status": h.status.value, "stopped": h.stopped, "stopped_reason": h.stopped_reason,
                "last_run": _iso(h.last_run_at), "last_success": _iso(h.last_success_at),
                "last_error": h.last_error, "last_error_code": h.last_error_code,
                "last_error_at": _iso(h.last_error_at), "consecutive_failures": h.consecutive_failures,
                "failing_since": _iso(h.failing_since),
                "backlog": self.backlog, "messages_last_hour": self.last_hour}


@dataclass(frozen=True)
class MailboxStatus:
    """One mailbox: where it comes from, both directions, its last hour and its open alerts."""

    mailbox: str
    deployment: str
    role: str
    source: str
    incoming: DirectionStatus
    outgoing: DirectionStatus
    traffic: TrafficCounts
    alerts: tuple[Alert, ...]

    def direction(self, direction: StateDirection) -> DirectionStatus:
        """The status of ``direction``."""
        return self.incoming if direction is StateDirection.INCOMING else self.outgoing

    def to_json(self) -> dict[str, Any]:
        """The JSON object of this mailbox."""
        t = self.traffic
        last_hour = {"messages_in": t.messages_in, "messages_out": t.messages_out, "screened": t.screened,
                     "quarantined": t.quarantined, "send_failures": t.failed}
        return {"mailbox": self.mailbox, "deployment": self.deployment, "role": self.role,
                "source": self.source, "incoming": self.incoming.to_json(),
                "outgoing": self.outgoing.to_json(), "last_hour": last_hour,
                "alerts": [a.id for a in self.alerts]}


@dataclass(frozen=True)
class StatusReport:
    """Every known mailbox and the open alerts, as of ``generated_at``."""

    generated_at: datetime
    config_version: int | None
    directory_refreshed_at: datetime | None
    mailboxes: tuple[MailboxStatus, ...]
    alerts: tuple[Alert, ...]

    def to_json(self) -> dict[str, Any]:
        """The ``--json`` document."""
        return {"generated_at": _iso(self.generated_at), "config_version": self.config_version,
                "directory_refreshed_at": _iso(self.directory_refreshed_at),
                "mailboxes": [m.to_json() for m in self.mailboxes],
                "alerts": [alert_json(a) for a in self.alerts]}


def alert_json(alert: Alert) -> dict[str, Any]:
    """One alert as JSON."""
    return {"id": alert.id, "kind": alert.kind, "mailbox": alert.mailbox or None, "text": alert.text,
            "occurrences": alert.occurrences, "raised_at": _iso(alert.raised_at),
            "last_seen_at": _iso(alert.last_seen_at)}


def collect_status(store: StateStore, mailboxes: tuple[str, ...] = ()) -> StatusReport:
    """Read the status of every mailbox (or only of ``mailboxes``, any case) from ``store``."""
    rows = store.directory.all()
    healths = {(h.mailbox.lower(), h.direction): h for h in store.health.all()}
    traffic = {m.lower(): t for m, t in store.traffic.last_hour().items()}
    alerts = tuple(store.alerts.open_alerts())
    directory: dict[str, dict[StateDirection, DirectoryRow]] = {}
    for row in rows:
        directory.setdefault(row.mailbox.lower(), {})[row.direction] = row
    names = sorted(set(directory) | {m for m, _ in healths})
    wanted = {m.strip().lower() for m in mailboxes}
    statuses = [_mailbox(store, name, directory.get(name, {}), healths, traffic, alerts)
                for name in names if not wanted or name in wanted]
    newest = max(rows, key=lambda r: r.refreshed_at, default=None)
    return StatusReport(store.clock.now(), newest.config_version if newest else None,
                        newest.refreshed_at if newest else None, tuple(statuses), alerts)


def _mailbox(store: StateStore, name: str, rows: dict[StateDirection, DirectoryRow],
             healths: dict[tuple[str, StateDirection], MailboxHealth], traffic: dict[str, TrafficCounts],
             alerts: tuple[Alert, ...]) -> MailboxStatus:
    counts = traffic.get(name) or TrafficCounts(name)
    any_row = next(iter(rows.values()), None)
    address = any_row.mailbox if any_row else name

    def direction(way: StateDirection) -> DirectionStatus:
        row = rows.get(way)
        health = healths.get((name, way)) or MailboxHealth(name, way)
        ledger = store.ledger if way is StateDirection.INCOMING else store.sends
        backlog = sum(ledger.unfinished_count(variant) for variant in {address, name})
        last_hour = counts.messages_in if way is StateDirection.INCOMING else counts.messages_out
        if row is None:
            return DirectionStatus(False, NOT_IN_DIRECTORY, None, health, backlog, last_hour)
        return DirectionStatus(row.served, row.reason, row.profile, health, backlog, last_hour)

    return MailboxStatus(
        mailbox=address, deployment=any_row.deployment if any_row else "",
        role=any_row.role if any_row else "", source=any_row.source if any_row else "",
        incoming=direction(StateDirection.INCOMING), outgoing=direction(StateDirection.OUTGOING),
        traffic=counts, alerts=tuple(a for a in alerts if a.mailbox.lower() == name))


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None

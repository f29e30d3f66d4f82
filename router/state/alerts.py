"""Alerts: problems an admin must act on, one open alert per (kind, mailbox) at a time.

Raising an alert that is already open only counts one more occurrence, so a failing mailbox does not
flood the admin. Resolving it closes it. Each alert carries two notices, "raised" and "recovered";
``pending_notices`` lists the ones not yet sent, and the notifier marks them sent after sending, so a
crash between the two sends a notice twice rather than never.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Connection, Row, and_, or_, select, update

from router.clock import Clock
from router.errors import StateStoreError
from router.state.engine import Database
from router.state.schema import alerts as T

NO_MAILBOX = ""
"""The mailbox of alerts that concern the whole router (a CRM outage, an unreadable configuration)."""


class AlertStatus(StrEnum):
    """An alert is open until it is resolved."""

    OPEN = "open"
    RESOLVED = "resolved"


class Notice(StrEnum):
    """The two notices of an alert."""

    RAISED = "raised"
    RECOVERED = "recovered"


@dataclass(frozen=True)
class Alert:
    """One alert and the state of its notices."""

    id: int
    kind: str
    mailbox: str
    text: str
    status: AlertStatus
    occurrences: int
    raised_at: datetime
    last_seen_at: datetime
    resolved_at: datetime | None
    resolution: str | None
    raised_notified_at: datetime | None
    recovered_notified_at: datetime | None

    @classmethod
    def from_row(cls, row: Row[tuple[object, ...]]) -> Alert:
        values = dict(row._mapping)
        values["status"] = AlertStatus(values["status"])
        return cls(**values)


@dataclass(frozen=True)
class PendingNotice:
    """A notice to send: which alert, and whether it says "raised" or "recovered"."""

    notice: Notice
    alert: Alert


class Alerts:
    """Raises, resolves and lists alerts, and tracks which notices were sent."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    def raise_alert(self, kind: str, text: str, *, mailbox: str = NO_MAILBOX) -> tuple[Alert, bool]:
        """Open an alert, or count one more occurrence of the open one; returns (alert, newly raised)."""
        now = self._clock.now()
        with self._db.write() as conn:
            current = self._open(conn, kind, mailbox)
            if current is not None:
                conn.execute(update(T).where(T.c.id == current.id).values(
                    text=text, occurrences=T.c.occurrences + 1, last_seen_at=now))
                return self._must(conn, current.id), False
            result = conn.execute(T.insert().values(
                kind=kind, mailbox=mailbox, text=text, status=AlertStatus.OPEN.value, occurrences=1,
                raised_at=now, last_seen_at=now))
            assert result.inserted_primary_key is not None
            return self._must(conn, int(result.inserted_primary_key[0])), True

    def resolve(self, kind: str, *, mailbox: str = NO_MAILBOX, resolution: str = "recovered") -> Alert | None:
        """Resolve the open alert of this kind and mailbox; returns it, or None if none was open."""
        with self._db.write() as conn:
            current = self._open(conn, kind, mailbox)
            if current is None:
                return None
            return self._close(conn, current.id, resolution)

    def resolve_id(self, alert_id: int, resolution: str) -> Alert:
        """Resolve one alert by id (an admin acknowledging it)."""
        with self._db.write() as conn:
            alert = self._select(conn, alert_id)
            if alert is None:
                raise StateStoreError(f"there is no alert {alert_id}",
                                      hint="run `email-router status` to see the open alerts")
            if alert.status is AlertStatus.RESOLVED:
                return alert
            return self._close(conn, alert_id, resolution)

    def open_alerts(self, mailbox: str | None = None) -> list[Alert]:
        """Open alerts, oldest first, of one mailbox or of all."""
        query = select(T).where(T.c.status == AlertStatus.OPEN.value).order_by(T.c.raised_at, T.c.id)
        if mailbox is not None:
            query = query.where(T.c.mailbox == mailbox)
        with self._db.read() as conn:
            return [Alert.from_row(r) for r in conn.execute(query)]

    def history(self, *, limit: int = 100) -> list[Alert]:
        """The latest alerts of any status, newest first."""
        query = select(T).order_by(T.c.raised_at.desc(), T.c.id.desc()).limit(limit)
        with self._db.read() as conn:
            return [Alert.from_row(r) for r in conn.execute(query)]

    def get(self, alert_id: int) -> Alert | None:
        """One alert by id."""
        with self._db.read() as conn:
            return self._select(conn, alert_id)

    def pending_notices(self) -> list[PendingNotice]:
        """Notices not yet sent, in the order their events happened."""
        raised = T.c.raised_notified_at.is_(None)
        recovered = and_(T.c.status == AlertStatus.RESOLVED.value, T.c.recovered_notified_at.is_(None))
        query = select(T).where(or_(raised, recovered)).order_by(T.c.id)
        notices: list[tuple[datetime, PendingNotice]] = []
        with self._db.read() as conn:
            for alert in (Alert.from_row(r) for r in conn.execute(query)):
                if alert.raised_notified_at is None:
                    notices.append((alert.raised_at, PendingNotice(Notice.RAISED, alert)))
                if alert.status is AlertStatus.RESOLVED and alert.recovered_notified_at is None:
                    assert alert.resolved_at is not None
                    notices.append((alert.resolved_at, PendingNotice(Notice.RECOVERED, alert)))
        return [n for _, n in sorted(notices, key=lambda pair: (pair[0], pair[1].alert.id))]

    def mark_notified(self, alert_id: int, notice: Notice) -> None:
        """Record that a notice was sent."""
        column = "raised_notified_at" if notice is Notice.RAISED else "recovered_notified_at"
        with self._db.write() as conn:
            conn.execute(update(T).where(T.c.id == alert_id).values({column: self._clock.now()}))

    def _close(self, conn: Connection, alert_id: int, resolution: str) -> Alert:
        now = self._clock.now()
        conn.execute(update(T).where(T.c.id == alert_id).values(
            status=AlertStatus.RESOLVED.value, resolved_at=now, resolution=resolution))
        return self._must(conn, alert_id)

    @staticmethod
    def _open(conn: Connection, kind: str, mailbox: str) -> Alert | None:
        row = conn.execute(select(T).where(T.c.kind == kind, T.c.mailbox == mailbox,
                                           T.c.status == AlertStatus.OPEN.value)).first()
        return None if row is None else Alert.from_row(row)

    @staticmethod
    def _select(conn: Connection, alert_id: int) -> Alert | None:
        row = conn.execute(select(T).where(T.c.id == alert_id)).first()
        return None if row is None else Alert.from_row(row)

    @classmethod
    def _must(cls, conn: Connection, alert_id: int) -> Alert:
        alert = cls._select(conn, alert_id)
        assert alert is not None, "a row seen in this transaction cannot vanish"
        return alert

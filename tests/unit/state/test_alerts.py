"""Alerts: one open alert per kind and mailbox, resolution, and the raised / recovered notices."""

from __future__ import annotations

import pytest

from router.clock import FrozenClock
from router.errors import StateStoreError
from router.state import NO_MAILBOX, AlertStatus, Notice, StateStore

from .conftest import T0

BOX = "user@x.test"


def test_raising_twice_counts_occurrences_on_one_alert(store: StateStore, clock: FrozenClock) -> None:
    alert, new = store.alerts.raise_alert("authentication", "401 from Exchange", mailbox=BOX)
    assert new and (alert.status, alert.occurrences, alert.raised_at) == (AlertStatus.OPEN, 1, T0)
    clock.advance(60)
    again, new = store.alerts.raise_alert("authentication", "401 again", mailbox=BOX)
    assert not new and again.id == alert.id
    assert (again.occurrences, again.text, again.last_seen_at) == (2, "401 again", clock.now())


def test_alerts_differ_by_kind_and_mailbox(store: StateStore) -> None:
    a, _ = store.alerts.raise_alert("authentication", "x", mailbox=BOX)
    b, _ = store.alerts.raise_alert("access_denied", "x", mailbox=BOX)
    c, _ = store.alerts.raise_alert("authentication", "x", mailbox="b@x.test")
    d, _ = store.alerts.raise_alert("crm_unreachable", "CRM down")
    assert len({a.id, b.id, c.id, d.id}) == 4 and d.mailbox == NO_MAILBOX
    assert [x.id for x in store.alerts.open_alerts(BOX)] == [a.id, b.id]
    assert len(store.alerts.open_alerts()) == 4


def test_resolving_closes_and_a_new_raise_opens_a_new_alert(store: StateStore, clock: FrozenClock) -> None:
    first, _ = store.alerts.raise_alert("authentication", "401", mailbox=BOX)
    clock.advance(10)
    resolved = store.alerts.resolve("authentication", mailbox=BOX)
    assert resolved is not None and resolved.status is AlertStatus.RESOLVED
    assert (resolved.resolved_at, resolved.resolution) == (clock.now(), "recovered")
    assert store.alerts.resolve("authentication", mailbox=BOX) is None
    second, new = store.alerts.raise_alert("authentication", "401 once more", mailbox=BOX)
    assert new and second.id != first.id
    assert [a.id for a in store.alerts.history()] == [second.id, first.id]
    assert [a.id for a in store.alerts.history(limit=1)] == [second.id]


def test_resolve_by_id(store: StateStore) -> None:
    alert, _ = store.alerts.raise_alert("quota", "mailbox full", mailbox=BOX)
    closed = store.alerts.resolve_id(alert.id, "admin cleaned the mailbox")
    assert closed.resolution == "admin cleaned the mailbox"
    assert store.alerts.resolve_id(alert.id, "twice").resolution == "admin cleaned the mailbox"
    assert store.alerts.get(alert.id) == closed and store.alerts.get(999) is None
    with pytest.raises(StateStoreError, match="no alert 999"):
        store.alerts.resolve_id(999, "x")


def test_notices_are_pending_until_marked_sent(store: StateStore, clock: FrozenClock) -> None:
    a, _ = store.alerts.raise_alert("authentication", "401", mailbox=BOX)
    clock.advance(1)
    b, _ = store.alerts.raise_alert("access_denied", "no rights", mailbox=BOX)
    clock.advance(1)
    store.alerts.resolve("authentication", mailbox=BOX)
    pending = [(n.notice, n.alert.id) for n in store.alerts.pending_notices()]
    assert pending == [(Notice.RAISED, a.id), (Notice.RAISED, b.id), (Notice.RECOVERED, a.id)]
    store.alerts.mark_notified(a.id, Notice.RAISED)
    store.alerts.mark_notified(b.id, Notice.RAISED)
    assert [(n.notice, n.alert.id) for n in store.alerts.pending_notices()] == [(Notice.RECOVERED, a.id)]
    store.alerts.mark_notified(a.id, Notice.RECOVERED)
    assert store.alerts.pending_notices() == []
    assert store.alerts.get(a.id).recovered_notified_at == clock.now()  # type: ignore[union-attr]

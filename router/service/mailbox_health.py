"""Mailbox health as server-side sync keeps it, fed by the scheduler's lane events.

``MailboxHealthMonitor`` is a ``LaneObserver``. Per mailbox and direction it records in the state
store's ``health`` the status (Not Run / Success / Failure), the last success, the last error and the
consecutive failures, and mirrors them in the Prometheus status gauges and on the CRM's mailbox record:

* a successful run (work done or nothing to do) sets Success; the first one, and the first after
  failures, writes Success to the CRM and clears its last error (the first one of a lane that was Not
  Run is held and written with the next ``flush``, one CRM call for all the mailboxes held: see
  ``CrmMailboxStatus.status_soon``). A success of a lane that was Not Run
  or already in Success is not a state-store transaction of its own: the monitor remembers each lane's
  health as it last wrote or read it, and such successes (a first pass over thousands of lanes, every
  idle sweep) are written together, at most ``SUCCESS_FLUSH_SECONDS`` later — a change from Not Run
  at the service's next periodic flush, every ``FIRST_SUCCESS_FLUSH_SECONDS`` —
  (``MailboxHealthStore.record_successes``), while the status gauges show them at once;
* a transient failure (the lane retries with back-off) sets Failure, counts it and writes the CRM's last
  error; after SchedulePolicy's ``escalate_after`` failures in a row the scheduler stops the lane;
* a stopped lane (a permanent error: authentication, access denied, mailbox missing, Send As denied, a
  configuration it cannot use, or escalated transient failures) is stopped in the store, raises an
  alert of kind ``mailbox_stopped_incoming`` / ``mailbox_stopped_outgoing`` and writes Failure to the
  CRM (which disables that direction there, as server-side sync does);
* the first success after a failure or stop resolves the alert with resolution "recovered", which is
  the alert's "recovered" notice (``Alerts.pending_notices``); a lane removed because its mailbox is no
  longer served resolves its alert with resolution "no longer served".

A stop outlives the process: ``guard`` wraps the work of a lane whose stop is newer than the published
version being applied, so the lane stops at once with ``MailboxStoppedError`` instead of failing
against Exchange again. A version published after the stop is tried again. `email-router mailbox
resume` clears the stop in the store; ``resumed`` tells the service which stopped lanes to restart.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import replace
from datetime import datetime

from router.config.profile import Direction
from router.config.published import PublishedConfig
from router.crm.codes import MailboxTestStatus
from router.errors import MailboxStoppedError, RouterError
from router.runtime.lane import LaneKey
from router.runtime.metrics import Direction as MetricsDirection
from router.runtime.metrics import MailboxState, Metrics
from router.runtime.outcome import Closeable, LaneWork, RunKind, RunReport, WorkContext, WorkResult
from router.service.crm_status import CrmMailboxStatus
from router.service.directory import MailboxDirectory
from router.service.observer import NullObserver
from router.state import Alert, HealthStatus, MailboxHealth, StateStore
from router.state import Direction as StateDirection

log = logging.getLogger(__name__)

STOP_ALERT = "mailbox_stopped_{direction}"
SNAPSHOT_SECONDS = 5.0
"""How long one read of every health row serves the lanes being set up (``lane_added``, ``guard``)."""
SUCCESS_FLUSH_SECONDS = 60.0
"""Longest delay before the last-success time of a lane already in Success reaches the state store."""
FIRST_SUCCESS_FLUSH_SECONDS = 1.0
"""How often the service writes held changes from Not Run to Success (``Service``'s periodic flush), so
`status`, the console and other instances see them within about a second, while a first pass over
thousands of lanes is still written in a few transactions, not one per lane."""
_WAY: dict[Direction, MetricsDirection] = {Direction.INCOMING: "incoming", Direction.OUTGOING: "outgoing"}
_STATE: dict[HealthStatus, MailboxState] = {HealthStatus.NOT_RUN: "not_run", HealthStatus.SUCCESS: "success",
                                            HealthStatus.FAILURE: "failure"}


def stop_alert_kind(direction: Direction) -> str:
    """The alert kind raised when ``direction`` of a mailbox stops."""
    return STOP_ALERT.format(direction=Direction(direction).value)


def describe(error: BaseException) -> tuple[str, str | None]:
    """The text and code of a failure as health records them (a bug shows its exception type)."""
    if isinstance(error, RouterError):
        return error.message, getattr(error, "code", None)
    return f"{type(error).__name__}: {error}", None


class MailboxHealthMonitor(NullObserver):
    """Keeps mailbox health, alerts, status gauges and the CRM's mailbox status; see the module docstring."""

    def __init__(self, store: StateStore, metrics: Metrics, directory: MailboxDirectory,
                 crm: CrmMailboxStatus | None = None) -> None:
        self._store = store
        self._metrics = metrics
        self._directory = directory
        self._crm = crm
        self._lock = threading.Lock()
        self._stopped: set[LaneKey] = set()
        self._known: dict[LaneKey, MailboxHealth] = {}
        """Each lane's health as this monitor last wrote or read it (the store is the truth)."""
        self._successes: dict[tuple[str, StateDirection], datetime] = {}
        self._first_pending = False
        """True while a held success is a lane's change from Not Run (due sooner)."""
        self._flushed = store.clock.monotonic()
        self._rows: tuple[dict[tuple[str, StateDirection], MailboxHealth] | None, float] = (None, 0.0)

    # Lane events.

    def lane_added(self, key: LaneKey) -> None:
        health = self._snapshot(key)
        self._gauge(key, health)
        if health.stopped:
            with self._lock:
                self._stopped.add(key)

    def run_finished(self, report: RunReport) -> None:
        if report.superseded:
            return
        if report.kind in (RunKind.WORKED, RunKind.IDLE):
            self._succeeded(report.key)
        elif report.kind in (RunKind.RETRY, RunKind.THROTTLED) and report.error is not None:
            self._failed(report.key, report.error)

    def lane_stopped(self, key: LaneKey, error: BaseException) -> None:
        if isinstance(error, MailboxStoppedError):
            self._gauge(key, self._health(key))
        else:
            self._stop(key, error)
        # Only once the store says "stopped" may ``resumed`` look at the lane: seen earlier, the stop not
        # yet written would read as an admin's resume and restart the lane at once.
        with self._lock:
            self._stopped.add(key)

    def lane_removed(self, key: LaneKey) -> None:
        with self._lock:
            self._stopped.discard(key)
            self._known.pop(key, None)
        if self._store.alerts.resolve(stop_alert_kind(key.direction), mailbox=key.mailbox,
                                      resolution="no longer served") is not None:
            log.info("lane %s is no longer served; its alert is resolved", key,
                     extra={"mailbox": key.mailbox})

    # For the service.

    def guard(self, key: LaneKey, config: PublishedConfig, work: LaneWork) -> LaneWork:
        """``work``, held stopped when the lane's stop is newer than ``config`` (see the module docstring)."""
        if not self._snapshot(key).stopped:
            return work
        health = self._health(key)
        if not health.stopped:
            return work
        stopped_at = health.last_error_at or health.last_run_at
        if stopped_at is not None and stopped_at < config.published_at:
            log.info("lane %s was stopped (%s); version %d was published since, so it is tried again", key,
                     health.stopped_reason, config.version, extra={"mailbox": key.mailbox})
            return work
        return HeldLane(work, key, self)

    def resumed(self) -> list[LaneKey]:
        """Stopped lanes whose stop was lifted in the store (`email-router mailbox resume`) since."""
        with self._lock:
            candidates = sorted(self._stopped)
        lifted = [key for key in candidates if not self._health(key).stopped]
        with self._lock:
            self._stopped.difference_update(lifted)
        return lifted

    def is_stopped(self, key: LaneKey) -> bool:
        """True while the store says ``key`` is stopped."""
        return self._health(key).stopped

    def health(self, key: LaneKey) -> MailboxHealth:
        """The stored health of one lane."""
        return self._health(key)

    def flush(self, *, due_only: bool = False) -> int:
        """Write the coalesced successes now (see the module docstring); the rows written. With
        ``due_only``, only when ``SUCCESS_FLUSH_SECONDS`` have passed since the last write. The CRM
        statuses held are written every time, after the state store (which `status` and the console
        read: a CRM taking seconds for thousands of statuses must not hold it back)."""
        try:
            return self._flush_store(due_only=due_only)
        finally:
            if self._crm is not None:
                self._crm.flush()

    def _flush_store(self, *, due_only: bool) -> int:
        with self._lock:
            now = self._store.clock.monotonic()
            if due_only and not self._due(now):
                return 0
            runs, self._successes = self._successes, {}
            first, self._first_pending = self._first_pending, False
            self._flushed = now
        if not runs:
            return 0
        try:
            return self._store.health.record_successes(runs)
        except BaseException:
            with self._lock:  # Kept for the next flush (a newer success of a lane wins).
                self._successes = {**runs, **self._successes}
                self._first_pending = self._first_pending or first
            raise

    def _due(self, now: float) -> bool:
        """Whether the held successes are due (call with the lock held): a change from Not Run is due
        at the service's next periodic flush (every FIRST_SUCCESS_FLUSH_SECONDS), the rest once
        SUCCESS_FLUSH_SECONDS have passed."""
        if not self._successes:
            return False
        return self._first_pending or now - self._flushed >= SUCCESS_FLUSH_SECONDS

    def open_alerts(self) -> list[Alert]:
        """Every open alert."""
        return self._store.alerts.open_alerts()

    # Internals.

    def _succeeded(self, key: LaneKey) -> None:
        if self._quiet_success(key):
            return
        mailbox, way = key.mailbox, _state_direction(key.direction)
        before = self._store.health.get(mailbox, way)
        if before.stopped:
            self._store.health.resume(mailbox, way)
        after = self._store.health.record_success(mailbox, way).after
        with self._lock:
            self._stopped.discard(key)
            self._successes.pop((mailbox, way), None)
        self._gauge(key, after)
        if before.status is HealthStatus.FAILURE or before.stopped:
            self._recovered(key, before)
        elif before.status is HealthStatus.NOT_RUN:
            self._crm_status(key, MailboxTestStatus.SUCCESS)

    def _quiet_success(self, key: LaneKey) -> bool:
        """A success of a lane known to be Not Run or in Success: remembered for the next flush (no
        transaction); the first one still writes Success to the CRM."""
        now, clock = self._store.clock.now(), self._store.clock
        with self._lock:
            known = self._known.get(key)
            if known is None or known.status is HealthStatus.FAILURE or known.stopped:
                return False
            first = known.status is HealthStatus.NOT_RUN
            known = self._known[key] = replace(known, status=HealthStatus.SUCCESS, last_run_at=now,
                                               last_success_at=now)
            self._successes[(key.mailbox, _state_direction(key.direction))] = now
            self._first_pending = self._first_pending or first
            # Not ``_due``: a first pass's changes from Not Run wait for the periodic flush, together.
            due = clock.monotonic() - self._flushed >= SUCCESS_FLUSH_SECONDS
        self._gauge(key, known)
        if first:
            view = self._directory.current()
            if self._crm is not None and view is not None:
                self._crm.status_soon(view, key.mailbox, key.direction, MailboxTestStatus.SUCCESS)
        if due:
            # The store only: the lane's worker must not wait for the CRM statuses held (thousands of
            # PATCHes on Dynamics after a first pass); the service's periodic flush writes those.
            self._flush_store(due_only=False)
        return True

    def _recovered(self, key: LaneKey, before: MailboxHealth) -> None:
        alert = self._store.alerts.resolve(stop_alert_kind(key.direction), mailbox=key.mailbox,
                                           resolution="recovered")
        log.info("lane %s recovered after %d failure(s)%s", key, before.consecutive_failures,
                 "; its alert is resolved" if alert is not None else "", extra={"mailbox": key.mailbox})
        view = self._directory.current()
        if self._crm is not None and view is not None:
            self._crm.clear(view, key.mailbox)
            self._crm.status(view, key.mailbox, key.direction, MailboxTestStatus.SUCCESS)

    def _failed(self, key: LaneKey, error: BaseException) -> None:
        text, code = describe(error)
        after = self._store.health.record_failure(key.mailbox, _state_direction(key.direction), error=text,
                                                  code=code).after
        self._gauge(key, after)
        view = self._directory.current()
        if self._crm is not None and view is not None:
            self._crm.error(view, key.mailbox, text, code)

    def _stop(self, key: LaneKey, error: BaseException) -> None:
        text, code = describe(error)
        way = _state_direction(key.direction)
        failures = self._store.health.record_failure(key.mailbox, way, error=text, code=code).after
        after = self._store.health.stop(key.mailbox, way, text).after
        self._gauge(key, after)
        alert, new = self._store.alerts.raise_alert(stop_alert_kind(key.direction),
                                                    _alert_text(key, error, failures), mailbox=key.mailbox)
        log.error("lane %s stopped%s: %s", key, "; alert raised" if new else f" (alert {alert.id} again)",
                  text, extra={"mailbox": key.mailbox})
        view = self._directory.current()
        if self._crm is not None and view is not None:
            self._crm.error(view, key.mailbox, text, code)
            self._crm.status(view, key.mailbox, key.direction, MailboxTestStatus.FAILURE)

    def _crm_status(self, key: LaneKey, status: MailboxTestStatus) -> None:
        view = self._directory.current()
        if self._crm is not None and view is not None:
            self._crm.status(view, key.mailbox, key.direction, status)

    def _snapshot(self, key: LaneKey) -> MailboxHealth:
        """The lane's health from one read of every row, taken at most ``SNAPSHOT_SECONDS`` ago: applying
        10,000s of lanes reads the store once, not once per lane (a stop it shows is read again)."""
        now = self._store.clock.monotonic()
        with self._lock:
            rows, taken = self._rows
        if rows is None or now - taken > SNAPSHOT_SECONDS:
            rows = {(h.mailbox, h.direction): h for h in self._store.health.all()}
            with self._lock:
                self._rows = (rows, now)
        way = _state_direction(key.direction)
        return rows.get((key.mailbox, way)) or MailboxHealth(key.mailbox, way)

    def _health(self, key: LaneKey) -> MailboxHealth:
        return self._store.health.get(key.mailbox, _state_direction(key.direction))

    def _gauge(self, key: LaneKey, health: MailboxHealth) -> None:
        """Show ``health`` on the status gauges and remember it as the lane's latest."""
        with self._lock:
            self._known[key] = health
        self._metrics.set_status(key.mailbox, _WAY[key.direction], _STATE[health.status],
                                 health.consecutive_failures, health.last_success_at)


class HeldLane:
    """Lane work that stays stopped while the store says its lane is stopped, then runs ``work``."""

    def __init__(self, work: LaneWork, key: LaneKey, monitor: MailboxHealthMonitor) -> None:
        self._work = work
        self._key = key
        self._monitor = monitor
        self._released = False

    def __call__(self, context: WorkContext) -> WorkResult:
        if not self._released:
            health = self._monitor.health(self._key)
            if health.stopped:
                raise MailboxStoppedError(
                    f"{self._key.direction.value} mail of {self._key.mailbox} is stopped since "
                    f"{health.last_error_at or health.last_run_at}: {health.stopped_reason}",
                    mailbox=self._key.mailbox,
                    hint=f"fix the cause, then publish a new version or run `email-router mailbox resume "
                    f"{self._key.mailbox}`")
            self._released = True
        return self._work(context)

    def close(self) -> None:
        """Release the wrapped work's resources."""
        if isinstance(self._work, Closeable):
            self._work.close()


def _alert_text(key: LaneKey, error: BaseException, failures: MailboxHealth) -> str:
    text, _ = describe(error)
    transient = not isinstance(error, RouterError) or error.transient
    cause = (f" after {failures.consecutive_failures} failures in a row; the last: {text}" if transient
             else f": {text}")
    hint = error.hint if isinstance(error, RouterError) and error.hint else (
        "fix the cause, then publish a new version or run `email-router mailbox resume`")
    return f"{key.direction.value} mail of {key.mailbox} stopped{cause}. What to do: {hint}"


def _state_direction(direction: Direction) -> StateDirection:
    return StateDirection(Direction(direction).value)

"""The router service: a published configuration turned into scheduled lanes, kept current until stopped.

``Service`` ties the pieces together. ``start`` applies the latest published configuration (or one
given), starts the scheduler's loop and the configuration watcher; ``stop`` stops both, lets runs in
flight finish up to a grace period and releases the pipelines' resources; ``run_until_signalled``
does both around SIGTERM / SIGINT handling and is what `email-router run` calls.

Applying a configuration (at start and on every new published version) is one step that is refused
as a whole when any part fails: the log redactor learns the version's secrets first, logging takes
its LogLevel and LogFile, the scheduler its MaxThreads, MaxThreadExecution and SchedulingPeriod, the
``MailboxDirectory`` resolves which mailboxes to serve (the CRM's Load Data merged with the published
bindings), and then the lanes are replaced atomically (see ``Scheduler.apply``). The directory is
resolved again every ConfigUpdatePeriod (sooner while a CRM does not answer: ``next_refresh``) by
``refresh_directory``, which adds, removes and rebuilds only the lanes whose mailboxes changed. Lane
work comes from the ``LaneWorkRegistry`` (see ``wiring`` for where pipelines are registered).

With a ``MailboxHealthMonitor`` the service keeps mailbox health: the monitor observes every lane,
holds lanes stopped before a restart (``guard``), and every ConfigRefreshPeriod the service restarts the
stopped lanes an admin resumed (``resume_released``; `email-router mailbox resume`).

``health`` and ``ready`` are the probes of the status endpoint:

* health (liveness): ok while the scheduler, the configuration watcher and the periodic threads run;
  "degraded" (still 200) while alerts are open, because a restart would not fix a mailbox's password;
* readiness: ok once a configuration is applied, every deployment's CRM answered Load Data the last
  time it was asked, and until shutdown begins.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Iterable

from router.clock import Clock, SystemClock
from router.config.profile import Direction
from router.config.published import (
    PublishedConfig,
    latest_version,
    load_published,
    missing_newest,
    rolled_back_error,
)
from router.config.risks import risks
from router.errors import PublishedConfigError, RouterError
from router.home import Home
from router.runtime.lane import LaneKey, LaneSpec
from router.runtime.metrics import Metrics
from router.runtime.outcome import LaneWork
from router.runtime.policy import Jitter
from router.runtime.registry import LaneWorkRegistry
from router.service.directory import DirectoryView, MailboxDirectory
from router.service.lanestate import LaneSnapshot
from router.service.logs import ServiceLogging
from router.service.mailbox_health import FIRST_SUCCESS_FLUSH_SECONDS, MailboxHealthMonitor
from router.service.metrics_observer import MetricsObserver
from router.service.observer import LaneObserver, Observers
from router.service.periodic import Periodic
from router.service.plan import LanePlanner, PlannedLane
from router.service.reload import ConfigWatcher, ReloadOutcome
from router.service.scheduler import ApplySummary, Scheduler
from router.service.signals import ShutdownSignals
from router.service.status_server import ProbeResult

log = logging.getLogger(__name__)

DEFAULT_GRACE_SECONDS = 30.0
"""How long runs in flight may take to finish at shutdown; systemd's default stop timeout is 90 s."""

SIGNAL_POLL_SECONDS = 0.2


LaneGate = Callable[[LaneKey, LaneWork], LaneWork]
"""Wraps each lane's work, for example to run it only while this instance holds the lane's lease."""


def load_running_config(home: Home) -> PublishedConfig:
    """The newest published configuration, or a PublishedConfigError telling the admin to publish."""
    if latest_version(home) is None:
        raise PublishedConfigError("there is no published configuration to run",
                                   path=str(home.published_dir),
                                   hint="run `email-router publish` first (after `email-router init` and "
                                   "writing the profiles), then start the service again")
    recorded = missing_newest(home)
    if recorded is not None:
        raise rolled_back_error(home, recorded)
    return load_published(home)


class Service:
    """The running router; see the module docstring."""

    def __init__(self, home: Home, registry: LaneWorkRegistry, *, clock: Clock | None = None,
                 metrics: Metrics | None = None, observers: Iterable[LaneObserver] = (),
                 logs: ServiceLogging | None = None, rng: Jitter | None = None,
                 escalate_after: int | None = None, directory: MailboxDirectory | None = None,
                 monitor: MailboxHealthMonitor | None = None, gate: LaneGate | None = None) -> None:
        clock = clock or SystemClock()
        self.home = home
        self.metrics = metrics or Metrics()
        self._registry = registry
        registry.bind_waker(self.wake)
        self._logs = logs
        self._planner = LanePlanner(escalate_after)
        self.directory = directory or MailboxDirectory(clock=clock)
        self.monitor = monitor
        self._gate = gate
        watchers: list[LaneObserver] = [MetricsObserver(self.metrics)] + ([monitor] if monitor else [])
        self._observers = Observers([*watchers, *observers])
        self.scheduler = Scheduler(clock, observer=self._observers, rng=rng)
        self._apply_lock = threading.Lock()
        self._stop_requested = threading.Event()
        self._config: PublishedConfig | None = None
        self._watcher: ConfigWatcher | None = None
        self._periodic: list[Periodic] = []
        self._served: set[str] = set()
        self._stopping = False

    @property
    def config(self) -> PublishedConfig | None:
        """The configuration running now (None before ``start``)."""
        return self._config

    # Life cycle.

    def start(self, config: PublishedConfig | None = None) -> None:
        """Apply ``config`` (default: the newest published one), start scheduling and watching."""
        if self._watcher is not None:
            raise RuntimeError("the service was already started")
        config = config or load_running_config(self.home)
        for direction in sorted(set(Direction) - self._registry.directions()):
            log.warning("no %s pipeline is installed in this build: %s lanes are not scheduled",
                        direction.value, direction.value)
        self.apply(config)
        self.scheduler.start()
        self._watcher = ConfigWatcher(self.home, self.apply, current=config.version)
        self._watcher.start(self._refresh_period)
        self._periodic = [Periodic("mailbox-directory", self.refresh_directory, self._update_period)]
        if self.monitor is not None:
            self._periodic.append(Periodic("mailbox-resume", self.resume_released, self._refresh_period))
            self._periodic.append(Periodic("health-flush", lambda: self._flush_health(due_only=True),
                                           lambda: FIRST_SUCCESS_FLUSH_SECONDS))
        for periodic in self._periodic:
            periodic.start()
        log.info("service started: configuration version %d, %d lane(s)", config.version,
                 len(self.scheduler.lanes()))

    def request_stop(self) -> None:
        """Ask ``run_until_signalled`` to return, as a signal does (safe from any thread)."""
        self._stop_requested.set()

    def stop(self, grace: float = DEFAULT_GRACE_SECONDS) -> bool:
        """Stop watching and scheduling, wait up to ``grace`` for runs in flight, release resources.

        Returns True when every run finished in time. Stopping twice does nothing more.
        """
        if self._stopping:
            return self.scheduler.wait_idle(0)
        self._stopping = True
        deadline = time.monotonic() + grace  # The whole stop fits in the grace period.
        for periodic in self._periodic:
            periodic.stop(_left(deadline))
        if self._watcher is not None:
            self._watcher.stop(_left(deadline))
        drained = self.scheduler.stop(_left(deadline))
        self._flush_health()
        self._registry.close()
        if drained:
            log.info("service stopped")
        else:
            log.error("service stopped after %.0f s with runs still in flight; they were abandoned and "
                      "their items are retried at the next start", grace)
        return drained

    def run_until_signalled(self, grace: float = DEFAULT_GRACE_SECONDS,
                            config: PublishedConfig | None = None) -> bool:
        """Run until SIGTERM / SIGINT (or ``request_stop``), then stop gracefully.

        Returns True when every run in flight finished within ``grace``.
        """
        with ShutdownSignals() as signals:
            self.start(config)
            while signals.received is None and not self._stop_requested.wait(SIGNAL_POLL_SECONDS):
                pass
            if signals.received is not None:
                log.info("%s received: stopping; runs in flight have %.0f s to finish "
                         "(send it again to exit at once)", signal.Signals(signals.received).name, grace)
            return self.stop(grace)

    # Configuration.

    def apply(self, config: PublishedConfig) -> ApplySummary:
        """Make ``config`` the running configuration (see the module docstring); raises when refused."""
        with self._apply_lock:
            settings = config.profiles.settings
            if self._logs is not None:
                self._logs.add_secrets(config.secret_values())
                self._logs.apply(settings)
            self.scheduler.configure(max_threads=settings.max_threads,
                                     max_run_seconds=settings.max_thread_execution_seconds,
                                     period=settings.scheduling_period_seconds)
            summary = self._install(config, self.directory.resolve(config))
            self._config = config
        for risk in risks(config.profiles):
            log.warning("configuration version %d: %s", config.version, risk)
        log.info("configuration version %d: %d lane(s) added, %d removed, %d rebuilt, %d unchanged, "
                 "%d failed to set up", config.version, len(summary.added), len(summary.removed),
                 len(summary.rebuilt), summary.unchanged, len(summary.failed))
        return summary

    def refresh_directory(self) -> ApplySummary | None:
        """Re-read the CRMs' Load Data now and apply the lanes it changes (ConfigUpdatePeriod does it too).

        Returns None when no configuration runs (before ``start``, or while stopping).
        """
        with self._apply_lock:
            config = self._config
            if config is None or self._stopping:
                return None
            summary = self._install(config, self.directory.resolve(config))
        if summary.added or summary.removed or summary.rebuilt or summary.failed:
            log.info("mailbox directory refreshed: %d lane(s) added, %d removed, %d rebuilt, %d failed to "
                     "set up", len(summary.added), len(summary.removed), len(summary.rebuilt),
                     len(summary.failed))
        return summary

    def resume_released(self) -> list[LaneKey]:
        """Restart the stopped lanes an admin resumed in the state store; returns them (and writes the
        health monitor's coalesced successes when they are due, so that lanes that stopped running
        are written too)."""
        if self.monitor is None:
            return []
        self._flush_health(due_only=True)
        restarted = [key for key in self.monitor.resumed() if self.scheduler.restart(key)]
        for key in restarted:
            log.info("lane %s resumed by an admin", key, extra={"mailbox": key.mailbox})
        return restarted

    def _flush_health(self, *, due_only: bool = False) -> None:
        """Write the successes the health monitor holds (best effort: the next flush tries again)."""
        if self.monitor is None:
            return
        try:
            self.monitor.flush(due_only=due_only)
        except RouterError as exc:
            log.warning("the coalesced mailbox health of successful runs could not be written: %s", exc)

    def reload_now(self) -> ReloadOutcome:
        """Check for a newly published version at once instead of waiting for ConfigRefreshPeriod."""
        if self._watcher is None:
            raise RuntimeError("the service is not started")
        return self._watcher.check()

    def wake(self, key: LaneKey) -> bool:
        """Run ``key`` soon (an Exchange notification arrived); False when there is no such lane."""
        return self.scheduler.wake(key)

    def lanes(self) -> list[LaneSnapshot]:
        """Every lane as it is now."""
        return self.scheduler.lanes()

    # Probes.

    def health(self) -> ProbeResult:
        """Whether the process works: its threads are alive; degraded while alerts are open."""
        checks = {"scheduler": self.scheduler.alive,
                  "config_watcher": self._watcher is not None and self._watcher.alive}
        checks.update({periodic.name: periodic.alive for periodic in self._periodic})
        if self.scheduler.loop_error is not None:
            return ProbeResult(False, f"the scheduler failed: {self.scheduler.loop_error}", checks)
        if not all(checks.values()):
            return ProbeResult(False, "not running", checks)
        alerts = self.monitor.open_alerts() if self.monitor is not None else []
        if not alerts:
            return ProbeResult(True, "running", checks)
        named = "; ".join(f"{a.kind} {a.mailbox}".strip() for a in alerts[:5])
        more = f" and {len(alerts) - 5} more" if len(alerts) > 5 else ""
        return ProbeResult(True, f"running, degraded: {len(alerts)} open alert(s): {named}{more} "
                           "(see `email-router status`)", checks, degraded=True)

    def ready(self) -> ProbeResult:
        """Whether the service does its job: configuration applied, CRMs answered, not shutting down."""
        lanes = self.scheduler.lanes()
        stopped = sum(1 for lane in lanes if lane.stopped is not None)
        view = self.directory.current()
        checks = {"config": self._config is not None,
                  "scheduling": self.scheduler.alive and not self._stopping,
                  "crm_load_data": view is not None and view.crm_answered}
        version = self._config.version if self._config is not None else None
        detail = f"configuration version {version}, {len(lanes)} lane(s), {stopped} stopped"
        if view is not None and view.crm_errors:
            detail += "; " + "; ".join(view.crm_errors.values())
        return ProbeResult(all(checks.values()), detail, checks)

    # Internals.

    def _refresh_period(self) -> float:
        config = self._config
        return config.profiles.settings.config_refresh_period_seconds if config is not None else 5.0

    def _update_period(self) -> float:
        config = self._config
        return self.directory.next_refresh(config.profiles.settings) if config is not None else 3600.0

    def _install(self, config: PublishedConfig, view: DirectoryView) -> ApplySummary:
        """Plan the lanes of ``view``'s served mailboxes and hand them to the scheduler (lock held)."""
        planned = self._planner.plan(config, self._registry.directions(), view.assignments)
        builder = _LaneBuilder(self._registry, planned, config, self.monitor, self._gate)
        summary = self.scheduler.apply([p.spec for p in planned.values()], builder)
        served = view.served()
        for mailbox in self._served - served:
            self.metrics.forget_mailbox(mailbox)
        self._served = served
        return summary


class _LaneBuilder:
    """Builds one lane's work from the registry for the configuration being applied."""

    def __init__(self, registry: LaneWorkRegistry, planned: dict[LaneKey, PlannedLane],
                 config: PublishedConfig, monitor: MailboxHealthMonitor | None,
                 gate: LaneGate | None) -> None:
        self._registry, self._planned, self._config = registry, planned, config
        self._monitor = monitor
        self._gate = gate

    def __call__(self, spec: LaneSpec) -> LaneWork:
        work = self._registry.build(self._planned[spec.key].assignment, spec.key.direction, self._config)
        if self._monitor is not None:
            work = self._monitor.guard(spec.key, self._config, work)
        return work if self._gate is None else self._gate(spec.key, work)


def _left(deadline: float) -> float:
    """Seconds left until ``deadline`` (monotonic), never negative."""
    return max(0.0, deadline - time.monotonic())

"""This service run as a router instance: registered, locked, heartbeating, and quick to recover.

An *instance* is one installation of the router (by default: this host and home directory; ``run
--instance NAME`` names it). At start, ``InstanceRun``

1. makes sure no other run of the same instance is alive: on PostgreSQL a session advisory lock on the
   instance name, held on a connection of its own for the whole run (PostgreSQL drops it the moment the
   process dies, whatever killed it); on SQLite the process id recorded by the earlier run;
2. registers the run in the ``instances`` table;
3. takes back the claims of earlier runs of the instance at once (their leases expire now), so a crash
   is recovered on the next pass instead of after the claim lease; likewise the lane leases those runs
   held (on PostgreSQL), which any instance may then acquire at once.

While running it refreshes the heartbeat every ``lease_seconds / 3`` and raises a ``backlog_stalled``
alert for every mailbox direction whose unfinished work has not moved for ``backlog_alert_seconds``
(resolved once it moves again). At a graceful stop it records the stop and lets go of the lock.
"""

from __future__ import annotations

import logging
import os
import socket
from typing import Any

from sqlalchemy import Connection, func, select
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from router.clock import Clock
from router.config.settings import SystemSettings
from router.errors import StateStoreError, UsageError
from router.home import Home
from router.runtime.registry import LaneWorkRegistry
from router.runtime.resources import Resources
from router.runtime.state_location import latest_config
from router.service.lease_keeper import lane_leases, longest_call
from router.service.periodic import Periodic
from router.state import StateStore
from router.state.backlog import backlogs
from router.state.instances import INSTANCE_PATTERN, RunIdentity, default_instance_name

log = logging.getLogger(__name__)

BACKLOG_ALERT = "backlog_stalled"
"""Alert kind of a mailbox direction whose unfinished work has stopped moving."""

ENV_INSTANCE = "EMAIL_ROUTER_INSTANCE"


def run_identity(home: Home, explicit: str | None = None) -> RunIdentity:
    """A new run of the instance ``explicit``, else $EMAIL_ROUTER_INSTANCE, else this host and home."""
    name = explicit or os.environ.get(ENV_INSTANCE) or default_instance_name(home)
    if not INSTANCE_PATTERN.match(name):
        raise UsageError(f"{name!r} is not a valid router instance name",
                         hint="use letters, digits, '.', '_' and '-' (at most 64 characters)")
    return RunIdentity.new(name)


def start_instance(resources: Resources, registry: LaneWorkRegistry) -> InstanceRun:
    """Start the ``InstanceRun`` of ``resources``' identity; ``registry`` closes it at shutdown."""
    config = latest_config(resources.home)
    settings = config.profiles.settings if config is not None else SystemSettings()
    run = InstanceRun(resources.store, resources.identity, settings, call_seconds=longest_call(config))
    run.start()
    registry.call_on_close(run.close)
    return run


class InstanceRun:
    """The registration, lock, heartbeat and backlog watch of one service run (see the module)."""

    def __init__(self, store: StateStore, identity: RunIdentity, settings: SystemSettings,
                 call_seconds: float | None = None) -> None:
        self.store = store
        self.call_seconds = call_seconds
        """The longest side effect (``lease_keeper.longest_call``), for the lease keeper's settle time."""
        self.identity = identity
        self.settings = settings
        self.clock: Clock = store.clock
        self.taken_back = 0
        self.leases_taken_back = 0
        self._lock_conn: Connection | None = None
        self._replaced = False
        self._heartbeat = Periodic(f"instance-heartbeat-{identity.instance}", self.beat,
                                   lambda: self.settings.lease_seconds / 3)

    def start(self) -> None:
        """Lock, register and take back earlier claims (see the module); UsageError if the instance runs."""
        self._lock()
        try:
            self.store.instances.register(self.identity, socket.gethostname(), os.getpid())
            self.taken_back = self.store.instances.take_back(self.identity)
            leases = lane_leases(self.store, self.settings, self.call_seconds)
            self.leases_taken_back = leases.take_back(self.identity)
        except BaseException:
            self._unlock()
            raise
        if self.taken_back:
            log.warning("instance %s: took back %d claims of its earlier run at once",
                        self.identity.instance, self.taken_back)
        self._heartbeat.start()

    def holds_lock(self) -> bool:
        """Whether this run still is the instance's only run; re-takes the lock if its connection dropped.

        On PostgreSQL the instance's lock is a session advisory lock: if the connection holding it drops
        (a network cut, a server restart, an administrator ending the session), the server releases it,
        and another run of the same instance could start and take back this run's claims and leases.
        So the lock's connection is checked before every lease turn: when it is gone, the lock is taken
        again on a new connection. If another run holds it by then, this run was replaced: False, and
        the lease keeper stops acting for good (``LeaseKeeper.depose``). If the database cannot be
        reached at all, StateStoreError: no lease is renewed, so the lanes pause by themselves.
        """
        if self.store.db.is_sqlite or self._replaced:
            return not self._replaced
        if self._lock_conn is not None:
            try:
                self._lock_conn.execute(select(1)).scalar_one()
                return True
            except DBAPIError:
                log.warning("instance %s: the connection holding its lock dropped; taking the lock again",
                            self.identity.instance)
                self._lock_conn.invalidate()
                self._lock_conn.close()
                self._lock_conn = None
        try:
            self._lock()
        except UsageError:
            self._replaced = True
            log.error("instance %s: another run of this instance took its lock while this run's connection "
                      "was down; this run stops serving lanes", self.identity.instance)
            return False
        except SQLAlchemyError as exc:
            raise StateStoreError(
                f"instance {self.identity.instance} cannot take its lock again: the state database "
                f"{self.store.db.location} failed: {str(getattr(exc, 'orig', None) or exc).splitlines()[0]}",
                hint="its lanes pause until the database answers again") from exc
        log.warning("instance %s: lock taken again on a new connection", self.identity.instance)
        return True

    def beat(self) -> None:
        """Refresh the heartbeat, then raise or resolve the backlog alerts."""
        if not self.store.instances.heartbeat(self.identity):
            log.error("instance %s: another run replaced this one's registration", self.identity.instance)
        self.watch_backlog()

    def watch_backlog(self) -> None:
        """Raise an alert for each stalled backlog; resolve those that moved again."""
        now = self.clock.now()
        limit = self.settings.backlog_alert_seconds
        stalled = {b.mailbox: b for b in backlogs(self.store.db) if b.stalled_for(now) > limit}
        for backlog in stalled.values():
            self.store.alerts.raise_alert(
                BACKLOG_ALERT, f"{backlog.unfinished} unfinished {backlog.direction.value} messages have not "
                f"moved for {backlog.stalled_for(now) / 60:.0f} minutes", mailbox=backlog.mailbox)
        for alert in self.store.alerts.open_alerts():
            if alert.kind == BACKLOG_ALERT and alert.mailbox not in stalled:
                self.store.alerts.resolve(BACKLOG_ALERT, mailbox=alert.mailbox, resolution="moving again")

    def close(self) -> None:
        """Stop the heartbeat, record the graceful stop and let go of the instance."""
        self._heartbeat.stop()
        try:
            self.store.instances.stopped(self.identity)
        finally:
            self._unlock()

    def _lock(self) -> None:
        if self.store.db.is_sqlite:
            self._check_pid()
            return
        conn = self.store.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        if not conn.execute(select(func.pg_try_advisory_lock(self._lock_key()))).scalar_one():
            conn.close()
            raise _already_running(self.identity.instance, "it holds the instance's lock in the database")
        self._lock_conn = conn

    def _unlock(self) -> None:
        if self._lock_conn is not None:
            conn, self._lock_conn = self._lock_conn, None
            try:
                conn.execute(select(func.pg_advisory_unlock(self._lock_key())))
            finally:
                # Close the connection for real rather than return it to the pool (it held a session lock).
                conn.invalidate()
                conn.close()

    def _lock_key(self) -> Any:
        return func.hashtextextended(self.identity.instance, 0)

    def _check_pid(self) -> None:
        earlier = self.store.instances.get(self.identity.instance)
        if (earlier is not None and earlier.stopped_at is None and earlier.host == socket.gethostname()
                and earlier.pid != os.getpid() and _pid_alive(earlier.pid)):
            raise _already_running(self.identity.instance, f"process {earlier.pid} on this host")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _already_running(instance: str, why: str) -> UsageError:
    return UsageError(f"router instance {instance!r} is already running ({why})",
                      hint="stop it first, or give this run another name with `email-router run --instance "
                      f"NAME` (or ${ENV_INSTANCE})")

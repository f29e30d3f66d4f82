"""The router service as `email-router run` starts it: pipelines, mailbox directory and health together.

``assemble_service`` connects a lane-work registry and the lanes' shared ``Resources`` to the mailbox
directory (Load Data through each deployment's CRM gateway, stored for `email-router status`) and the
mailbox health monitor (state store, alerts, status gauges, CRM mailbox status). ``router_service``
also builds the registry of this build's pipelines (``wiring.lane_work_registry``); it is what the
``run`` command uses. Tests that bring their own lane work call ``assemble_service`` with their registry.
"""

from __future__ import annotations

from collections.abc import Iterable

from router.clock import Clock
from router.ews import perf
from router.home import Home
from router.runtime.lane import LaneKey
from router.runtime.metrics import Metrics
from router.runtime.outcome import LaneWork
from router.runtime.policy import Jitter
from router.runtime.registry import LaneWorkRegistry
from router.runtime.resources import Resources
from router.service.crm_status import CrmMailboxStatus
from router.service.directory import MailboxDirectory
from router.service.instance import run_identity, start_instance
from router.service.lease_keeper import LeaseKeeper
from router.service.logs import ServiceLogging
from router.service.mailbox_health import MailboxHealthMonitor
from router.service.observer import LaneObserver
from router.service.service import LaneGate, Service
from router.service.wiring import lane_work_registry


def assemble_service(home: Home, registry: LaneWorkRegistry, resources: Resources, *,
                     logs: ServiceLogging | None = None, observers: Iterable[LaneObserver] = (),
                     rng: Jitter | None = None, gate: LaneGate | None = None) -> Service:
    """A ``Service`` whose lanes come from the mailbox directory and whose health is kept; see the module.

    The registry must close ``resources`` (``lane_work_registry`` registers that).
    """
    perf.install()
    directory = MailboxDirectory(resources.gateway, store=resources.store, clock=resources.clock)
    monitor = MailboxHealthMonitor(resources.store, resources.metrics, directory,
                                   CrmMailboxStatus(resources.gateway, resources.clock))
    return Service(home, registry, clock=resources.clock, metrics=resources.metrics, logs=logs,
                   observers=observers, rng=rng, directory=directory, monitor=monitor, gate=gate)


def router_service(home: Home, clock: Clock, metrics: Metrics, *,
                   logs: ServiceLogging | None = None, instance: str | None = None) -> Service:
    """The service of this build's pipelines, as `email-router run` runs it (as router ``instance``)."""
    resources = Resources(home, clock, metrics, identity=run_identity(home, instance))
    try:
        registry = lane_work_registry(home, clock, metrics, resources)
        shared = not resources.store.db.is_sqlite
        keeper = _Deferred() if shared else None
        service = assemble_service(home, registry, resources, logs=logs,
                                   gate=keeper.gate if keeper is not None else None)
        run = start_instance(resources, registry)
        if keeper is not None:
            # Several instances may share a PostgreSQL store: each serves the lanes it holds a lease on.
            keeper.bind(LeaseKeeper(resources.store, resources.identity, run.settings,
                                    lambda: [lane.key for lane in service.scheduler.lanes()], service.wake,
                                    guard=run.holds_lock, call_seconds=run.call_seconds))
            registry.call_on_close(keeper.close)
        return service
    except BaseException:
        resources.close()
        raise


class _Deferred:
    """The lease keeper, made once the service it gates exists (the gate is handed to the service first)."""

    def __init__(self) -> None:
        self.keeper: LeaseKeeper | None = None

    def bind(self, keeper: LeaseKeeper) -> None:
        self.keeper = keeper
        keeper.start()

    def gate(self, key: LaneKey, work: LaneWork) -> LaneWork:
        assert self.keeper is not None, "lanes are built once the service starts, after the keeper exists"
        return self.keeper.gate(key, work)

    def close(self) -> None:
        if self.keeper is not None:
            self.keeper.close()

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
from router.runtime.metrics import Metrics
from router.runtime.policy import Jitter
from router.runtime.registry import LaneWorkRegistry
from router.runtime.resources import Resources
from router.service.crm_status import CrmMailboxStatus
from router.service.directory import MailboxDirectory
from router.service.instance import run_identity, start_instance
from router.service.logs import ServiceLogging
from router.service.mailbox_health import MailboxHealthMonitor
from router.service.observer import LaneObserver
from router.service.service import Service
from router.service.wiring import lane_work_registry


def assemble_service(home: Home, registry: LaneWorkRegistry, resources: Resources, *,
                     logs: ServiceLogging | None = None, observers: Iterable[LaneObserver] = (),
                     rng: Jitter | None = None) -> Service:
    """A ``Service`` whose lanes come from the mailbox directory and whose health is kept; see the module.

    The registry must close ``resources`` (``lane_work_registry`` registers that).
    """
    perf.install()
    directory = MailboxDirectory(resources.gateway, store=resources.store, clock=resources.clock)
    monitor = MailboxHealthMonitor(resources.store, resources.metrics, directory,
                                   CrmMailboxStatus(resources.gateway, resources.clock))
    return Service(home, registry, clock=resources.clock, metrics=resources.metrics, logs=logs,
                   observers=observers, rng=rng, directory=directory, monitor=monitor)


def router_service(home: Home, clock: Clock, metrics: Metrics, *,
                   logs: ServiceLogging | None = None, instance: str | None = None) -> Service:
    """The service of this build's pipelines, as `email-router run` runs it (as router ``instance``)."""
    resources = Resources(home, clock, metrics, identity=run_identity(home, instance))
    try:
        registry = lane_work_registry(home, clock, metrics, resources)
        service = assemble_service(home, registry, resources, logs=logs)
        start_instance(resources, registry)
        return service
    except BaseException:
        resources.close()
        raise

"""The one place where the pipelines are plugged into the service.

``lane_work_registry`` builds the ``LaneWorkRegistry`` that `email-router run` hands to the
``Service``. Each pipeline adds one line here: it registers the factory of its direction and the
shared resources it opened, for example::

    registry.register(Direction.INCOMING, IncomingLanes(resources).build)

``Resources`` holds what lanes share (state store, EWS account factory, CRM gateways) and is closed
with the registry. exchangelib's response parsing override (``router.ews.perf``) is installed here,
once, before any lane talks to Exchange.

Directions without a factory get no lanes (the service says so in its log at start), so the service
runs, serves its status endpoint and follows published configurations before every pipeline exists.
"""

from __future__ import annotations

from router.clock import Clock
from router.ews import perf
from router.home import Home
from router.pipeline.incoming.lanes import IncomingLanes
from router.pipeline.outgoing.lane import OutgoingLanes
from router.runtime.metrics import Metrics
from router.runtime.registry import LaneWorkRegistry
from router.runtime.resources import Resources


def lane_work_registry(home: Home, clock: Clock, metrics: Metrics,
                       resources: Resources | None = None) -> LaneWorkRegistry:
    """The lane-work factories of this build, ready for ``Service``.

    ``resources`` are the lanes' shared resources (made here when not given); the registry closes them.
    """
    perf.install()
    registry = LaneWorkRegistry()
    resources = resources or Resources(home, clock, metrics)
    registry.call_on_close(resources.close)
    IncomingLanes.install(registry, resources)
    OutgoingLanes.install(registry, resources)
    return registry

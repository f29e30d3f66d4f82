"""The incoming lane-work factory: ``IncomingLanes(resources).build(assignment, direction, config)``.

``IncomingLanes.install(registry, resources)`` is the one line in ``router/service/wiring.py`` (the
service composes the pipelines; both meet in ``router.runtime``): it registers ``build`` for incoming
lanes, gives the notification hub the registry's ``wake`` and closes the hub at shutdown. What lanes
share lives here or in ``Resources``: the state store, the account factory, CRM gateways (one per
published version and deployment), the per-sender rate breakers, the notification hub and the Graph
delta poller (Graph's stand-in for notifications). The ledger
owner of every lane names this process run and the lane's build, so
claims left by a crashed run are recognised as such and taken over once their lease has run out, and
a rebuilt lane's old work, closed while the new one runs, gives back only its own claims.
"""

from __future__ import annotations

import hashlib
import itertools
import threading
from collections.abc import Callable

from router.config import Direction, MailboxAssignment, MailboxRole
from router.config.published import PublishedConfig
from router.graph.delta_poller import DeltaPoller
from router.pipeline.incoming.checkpoints import Checkpoint, no_checkpoint
from router.pipeline.incoming.forward import ForwardUsers
from router.pipeline.incoming.lane import IncomingLane
from router.pipeline.incoming.lane_deps import LaneDeps
from router.pipeline.incoming.notifications import NotificationHub
from router.pipeline.incoming.options import lane_options
from router.pipeline.incoming.process import ItemProcessor
from router.pipeline.incoming.rate_breaker import RateBreaker, RateLimit
from router.runtime.graph_connections import mailbox_spec
from router.runtime.lane import LaneKey
from router.runtime.registry import LaneWorkRegistry
from router.runtime.resources import Resources

OWNER_MAX = 128


class IncomingLanes:
    """Builds incoming lanes; owns what they share beyond ``Resources``. ``close`` at shutdown."""

    def __init__(self, resources: Resources, *, wake: Callable[[LaneKey], bool] | None = None,
                 checkpoint: Checkpoint = no_checkpoint, notifications: bool = True) -> None:
        self.resources = resources
        self.checkpoint = checkpoint
        # Claims start with the run's tag, so a restart of this instance can take them back at once.
        self.run_id = resources.identity.tag
        self.hub = NotificationHub(resources.accounts, wake) if wake is not None and notifications else None
        self.delta = DeltaPoller(wake, resources.clock) if wake is not None and notifications else None
        self._breakers: dict[RateLimit, RateBreaker] = {}
        self._builds = itertools.count(1)
        self._lock = threading.Lock()

    @classmethod
    def install(cls, registry: LaneWorkRegistry, resources: Resources) -> IncomingLanes:
        """Register incoming lanes in ``registry`` (notifications wake through it; closed with it)."""
        lanes = cls(resources, wake=registry.wake)
        registry.register(Direction.INCOMING, lanes.build)
        registry.call_on_close(lanes.close)
        return lanes

    def build(self, assignment: MailboxAssignment, direction: Direction,
              config: PublishedConfig) -> IncomingLane:
        """The work of ``assignment``'s incoming lane under ``config``; ConfigError if it cannot be served."""
        options = lane_options(config, assignment)
        spec = mailbox_spec(config, assignment, direction)
        gateway = self.resources.gateway(config, assignment.deployment)
        refresh = config.profiles.settings.config_update_period_seconds
        forward = (ForwardUsers(lambda: gateway, self.resources.clock, refresh)
                   if assignment.role is MailboxRole.FORWARD else None)
        processor = ItemProcessor(options, self.resources.store, gateway,
                                  owner=self.owner(options.mailbox), breaker=self.breaker(options.rate),
                                  forward_users=forward, clock=self.resources.clock,
                                  checkpoint=self.checkpoint)
        deps = LaneDeps(self.resources.store, self.resources.accounts, gateway, self.resources.clock,
                        self.hub, self.checkpoint, self.resources.metrics, self.resources.graphs, self.delta)
        return IncomingLane(LaneKey(assignment.address, direction), options, spec, deps, processor)

    def owner(self, mailbox: str) -> str:
        """A new ledger owner for a build of ``mailbox``'s lane in this process run (at most 128 chars)."""
        owner = f"{self.run_id}:{next(self._builds)}:{mailbox}"
        if len(owner) <= OWNER_MAX:
            return owner
        return f"{owner[:OWNER_MAX - 41]}:{hashlib.sha256(owner.encode()).hexdigest()[:40]}"

    def breaker(self, rate: RateLimit) -> RateBreaker:
        """The rate breaker shared by every lane with the same limits."""
        with self._lock:
            breaker = self._breakers.get(rate)
            if breaker is None:
                breaker = self._breakers[rate] = RateBreaker(self.resources.clock, rate)
            return breaker

    def close(self) -> None:
        """End the notification streams and the Graph delta poller."""
        if self.hub is not None:
            self.hub.close()
        if self.delta is not None:
            self.delta.close()

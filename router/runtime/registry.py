"""Where pipelines plug into the service: one lane-work factory per direction.

A factory turns one served mailbox of a published configuration into the work of its lane::

    def incoming_factory(assignment: MailboxAssignment, direction: Direction,
                         config: PublishedConfig) -> LaneWork: ...

    registry.register(Direction.INCOMING, incoming_factory)

The configuration is passed so that the work can read the profile, deployment, settings and
credentials of the version being applied (a new version rebuilds only the lanes it changed). A
factory raises a ``RouterError`` (e.g. ``ConfigError``) when it cannot serve the mailbox; that lane is
then stopped and reported, the others run. Shared resources that factories open (the state store, CRM
gateways, sessions) are registered with ``call_on_close`` and released when the service stops.
Lanes are scheduled only for directions that have a factory.

``wake`` relays "run this lane soon" (an Exchange notification arrived) to the service that runs the
lanes; the ``Service`` binds itself with ``bind_waker`` when it is built, so factories created before
the service can already hold ``registry.wake``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from router.config.profile import Direction
from router.config.profileset import MailboxAssignment
from router.config.published import PublishedConfig
from router.errors import ConfigError
from router.runtime.lane import LaneKey
from router.runtime.outcome import LaneWork

log = logging.getLogger(__name__)

LaneWorkFactory = Callable[[MailboxAssignment, Direction, PublishedConfig], LaneWork]


class LaneWorkRegistry:
    """The lane-work factory of each direction, and the resources to release at shutdown."""

    def __init__(self) -> None:
        self._factories: dict[Direction, LaneWorkFactory] = {}
        self._closers: list[Callable[[], None]] = []
        self._waker: Callable[[LaneKey], bool] | None = None

    def register(self, direction: Direction, factory: LaneWorkFactory) -> None:
        """Make ``factory`` build the lanes of ``direction``; each direction has one factory."""
        direction = Direction(direction)
        if direction in self._factories:
            raise ValueError(f"a lane-work factory for {direction.value} lanes is already registered")
        self._factories[direction] = factory

    def directions(self) -> frozenset[Direction]:
        """The directions that have a factory, hence lanes."""
        return frozenset(self._factories)

    def build(self, assignment: MailboxAssignment, direction: Direction, config: PublishedConfig) -> LaneWork:
        """Build the work of ``assignment``'s lane in ``direction`` for configuration ``config``."""
        factory = self._factories.get(Direction(direction))
        if factory is None:
            raise ConfigError(f"no pipeline serves {Direction(direction).value} mail in this build",
                              mailbox=assignment.address,
                              hint="register a lane-work factory in router/service/wiring.py")
        return factory(assignment, direction, config)

    def bind_waker(self, waker: Callable[[LaneKey], bool]) -> None:
        """Make ``wake`` reach ``waker`` (the service's ``wake``)."""
        self._waker = waker

    def wake(self, key: LaneKey) -> bool:
        """Ask the bound service to run lane ``key`` soon; False when no service is bound or no such lane."""
        waker = self._waker
        return waker(key) if waker is not None else False

    def call_on_close(self, closer: Callable[[], None]) -> None:
        """Call ``closer`` when the service stops (in reverse order of registration)."""
        self._closers.append(closer)

    def close(self) -> None:
        """Release every registered resource; a failing closer is logged and the others still run."""
        closers, self._closers = self._closers, []
        for closer in reversed(closers):
            try:
                closer()
            except Exception:  # Shutdown goes on: one resource failing to close must not leak the rest.
                log.exception("releasing a pipeline resource failed")

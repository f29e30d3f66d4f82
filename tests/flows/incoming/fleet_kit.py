"""One mailbox's incoming lane served by router instances that share a PostgreSQL state database.

``LeasedLane`` is what an instance's service does for one lane, without the rest of the service: the
real ``LeaseKeeper`` acquires and renews the lane's lease (fencing token and all) and the lane's work
runs gated by it (``GatedWork``: writes fenced, ``ensure_lease`` before each CRM delivery, the token
carried to the CRM). The exactly-once tests run one instance in a child process that dies or is
paused at a step, and two more in the test process that race for the lane once its lease runs out.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from types import TracebackType

from router.clock import SystemClock
from router.config import Direction
from router.config.published import load_published
from router.config.settings import SystemSettings
from router.home import Home
from router.pipeline.incoming.checkpoints import Checkpoint, no_checkpoint
from router.pipeline.incoming.lanes import IncomingLanes
from router.runtime.lane import LaneKey
from router.runtime.metrics import Metrics
from router.runtime.outcome import WorkContext, WorkResult
from router.runtime.resources import Resources
from router.service.drain import assignment_of
from router.service.lease_keeper import LeaseKeeper
from router.state import StateStore
from router.state.instances import RunIdentity

LEASE_SECONDS = 5.0
"""The smallest lease the settings allow: a dead or paused instance's lane moves after this long."""


class LeasedLane:
    """Instance ``instance`` serving ``mailbox``'s incoming lane of ``home`` (see the module)."""

    def __init__(self, home: Home, database_url: str, instance: str, mailbox: str, *,
                 checkpoint: Checkpoint = no_checkpoint, call_seconds: float | None = None) -> None:
        self.key = LaneKey(mailbox, Direction.INCOMING)
        self.store = StateStore.open(database_url, SystemClock())
        self.identity = RunIdentity.new(instance)
        self.store.instances.register(self.identity, "test", 0)
        self.resources = Resources(home, SystemClock(), Metrics(), store=self.store, identity=self.identity)
        self.lanes = IncomingLanes(self.resources, checkpoint=checkpoint, notifications=False)
        config = load_published(home)
        work = self.lanes.build(assignment_of(self.resources, config, mailbox), Direction.INCOMING, config)
        self.keeper = LeaseKeeper(self.store, self.identity, SystemSettings(lease_seconds=LEASE_SECONDS),
                                  lanes=lambda: [self.key], wake=lambda key: None, call_seconds=call_seconds)
        self.work = self.keeper.gate(self.key, work)
        self.context = WorkContext(self.key, cancel_event=threading.Event())

    def holds(self) -> bool:
        return self.keeper.book.safe(self.key)

    def start(self) -> LeasedLane:
        self.keeper.start()
        return self

    def wait_held(self, timeout: float) -> bool:
        """True once this instance safely holds the lane (within ``timeout`` seconds)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.holds():
                return True
            time.sleep(0.1)
        return False

    def run(self) -> WorkResult:
        """One run of the lane (nothing happens unless this instance holds it)."""
        return self.work(self.context)

    def drain(self, done: Callable[[], bool], timeout: float) -> None:
        """Run the lane until ``done()`` (messages the old holder had in flight come free only once its
        calls have landed, so a run may find nothing to do for a while)."""
        deadline = time.monotonic() + timeout
        while not done():
            assert time.monotonic() < deadline, "the lane did not finish in time"
            self.run()
            time.sleep(0.2)

    def close(self) -> None:
        self.keeper.close()
        self.work.close()  # type: ignore[attr-defined]
        self.lanes.close()
        self.resources.close()
        self.store.close()

    def __enter__(self) -> LeasedLane:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

"""One mailbox lane served by router instances that share a PostgreSQL state database.

``LeasedLane`` is what an instance's service does for one lane, without the rest of the service: the
real ``LeaseKeeper`` acquires and renews the lane's lease (fencing token and all) and the lane's work
runs gated by it (``GatedWork``: writes fenced, ``ensure_lease`` before each side effect — a CRM
delivery, an Exchange send — the token carried to the CRM). The lane's work is built by the direction's
own factory (``incoming_lane``, ``outgoing_lane``), as the service builds it.

The three-instance exactly-once tests of both directions run one instance in a child process
(``tests.flows.fleet_child``) that dies or freezes at a step, and two more in the test process that race
for the lane once its lease runs out (``heirs_take_over``): one wins and drains the lane, the other
finds it held and does nothing.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from router.clock import SystemClock
from router.config import Direction
from router.config.published import PublishedConfig, load_published
from router.config.settings import SystemSettings
from router.home import Home
from router.pipeline.incoming.checkpoints import Checkpoint as IncomingCheckpoint
from router.pipeline.incoming.checkpoints import no_checkpoint as no_incoming_checkpoint
from router.pipeline.incoming.lanes import IncomingLanes
from router.pipeline.outgoing.lane import OutgoingLanes
from router.pipeline.outgoing.steps import Checkpoint as OutgoingCheckpoint
from router.pipeline.outgoing.steps import no_checkpoint as no_outgoing_checkpoint
from router.runtime.lane import LaneKey
from router.runtime.metrics import Metrics
from router.runtime.outcome import LaneWork, WorkContext, WorkResult
from router.runtime.resources import Resources
from router.service.directory import served_assignment
from router.service.drain import assignment_of
from router.service.lease_keeper import LeaseKeeper
from router.state import StateStore
from router.state.engine import IDLE_IN_TRANSACTION_SECONDS
from router.state.instances import RunIdentity

REPO = Path(__file__).resolve().parents[2]
LEASE_SECONDS = 5.0
"""The smallest lease the settings allow: a dead or paused instance's lane moves after this long."""
SETTLE_SECONDS = 2.0
"""The heirs' wait for the old holder's calls past its lease (70 s against Dynamics; short here)."""
CALL_SECONDS = LEASE_SECONDS / 3 + SETTLE_SECONDS
"""The heirs' bound on a call: they recover the old holder's claims SETTLE_SECONDS past its lease."""

TAKE_OVER_SECONDS = LEASE_SECONDS + IDLE_IN_TRANSACTION_SECONDS + 10.0
"""The longest the heirs may take to hold the lane: its lease runs out — but a child frozen in the middle
of a transaction (its lease keeper renewing, say) keeps the lease row locked until the server ends its
idle session — then a keeper turn, and slack for a loaded machine."""

Built = tuple[LaneWork, Callable[[], None]]
"""A lane's work and what closes the factory that built it."""
LaneFactory = Callable[[Resources, PublishedConfig], Built]


def incoming_lane(mailbox: str, checkpoint: IncomingCheckpoint = no_incoming_checkpoint) -> LaneFactory:
    """``mailbox``'s incoming lane, built by ``IncomingLanes`` (no streaming notifications)."""

    def build(resources: Resources, config: PublishedConfig) -> Built:
        lanes = IncomingLanes(resources, checkpoint=checkpoint, notifications=False)
        work = lanes.build(assignment_of(resources, config, mailbox), Direction.INCOMING, config)
        return work, lanes.close

    return build


def outgoing_lane(mailbox: str, checkpoint: OutgoingCheckpoint = no_outgoing_checkpoint) -> LaneFactory:
    """``mailbox``'s outgoing lane, built by ``OutgoingLanes`` for the mailbox as the service's directory
    serves it (matched to the CRM's Load Data)."""

    def build(resources: Resources, config: PublishedConfig) -> Built:
        lanes = OutgoingLanes(resources, checkpoint=checkpoint)
        assignment = served_assignment(config, mailbox, Direction.OUTGOING, source=resources.gateway,
                                       clock=resources.clock)
        return lanes.build(assignment, Direction.OUTGOING, config), lambda: None

    return build


class LeasedLane:
    """Instance ``instance`` serving lane ``key`` of ``home`` (see the module)."""

    def __init__(self, home: Home, database_url: str, instance: str, key: LaneKey, build: LaneFactory, *,
                 call_seconds: float | None = None) -> None:
        self.key = key
        self.store = StateStore.open(database_url, SystemClock())
        self.identity = RunIdentity.new(instance)
        self.store.instances.register(self.identity, "test", 0)
        self.resources = Resources(home, SystemClock(), Metrics(), store=self.store, identity=self.identity)
        work, self._close_factory = build(self.resources, load_published(home))
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
        """Run the lane until ``done()`` (what the old holder had in flight comes free only once its calls
        have landed, so a run may find nothing to do for a while)."""
        deadline = time.monotonic() + timeout
        while not done():
            assert time.monotonic() < deadline, "the lane did not finish in time"
            self.run()
            time.sleep(0.2)

    def close(self) -> None:
        self.keeper.close()
        self.work.close()  # type: ignore[attr-defined]
        self._close_factory()
        self.resources.close()
        self.store.close()

    def __enter__(self) -> LeasedLane:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def child(home: Home, url: str, key: LaneKey, action: str, step: str, nth: int) -> subprocess.Popen[str]:
    """Instance ``router-0`` serving ``key`` in a child process that SIGKILLs (``kill``) or SIGSTOPs
    (``stop``) itself the ``nth`` time the lane reaches ``step`` (see ``tests.flows.fleet_child``)."""
    return subprocess.Popen([sys.executable, "-m", "tests.flows.fleet_child", str(home.root), url, "router-0",
                             key.mailbox, str(key.direction), action, step, str(nth)], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def killed(home: Home, url: str, key: LaneKey, step: str, nth: int) -> None:
    """Run the child instance until it SIGKILLs itself at ``step``."""
    process = child(home, url, key, "kill", step, nth)
    _, err = process.communicate(timeout=120)
    assert process.returncode == -signal.SIGKILL, err


def wait_stopped(process: subprocess.Popen[str], timeout: float = 120) -> None:
    """Wait until ``process`` froze (SIGSTOP) — it must not have finished instead."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = Path(f"/proc/{process.pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        if state == "T":
            return
        assert process.poll() is None, process.communicate()
        time.sleep(0.05)
    raise AssertionError("the child never froze")


def heirs_take_over(home: Home, url: str, key: LaneKey, build: Callable[[], LaneFactory],
                    done: Callable[[], bool], *, call_seconds: float = CALL_SECONDS,
                    taken: Callable[[], object] = lambda: None) -> None:
    """Instances router-1 and router-2 race for the lane; the one that wins drains it until ``done()``.

    ``taken`` runs once the lane is won, before the winner's first run (the frozen old holder may be
    woken there)."""
    one = LeasedLane(home, url, "router-1", key, build(), call_seconds=call_seconds).start()
    two = LeasedLane(home, url, "router-2", key, build(), call_seconds=call_seconds).start()
    try:
        deadline = time.monotonic() + TAKE_OVER_SECONDS
        while not (one.holds() or two.holds()):
            assert time.monotonic() < deadline, "no instance took the lane over"
            time.sleep(0.1)
        winner, loser = (one, two) if one.holds() else (two, one)
        assert not loser.holds(), "two instances hold the lane at once"
        taken()
        winner.drain(done, timeout=120 + call_seconds)
        assert loser.run().processed == 0  # The lane is not the loser's: its run does nothing.
    finally:
        one.close()
        two.close()

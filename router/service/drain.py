"""Run one mailbox's incoming lane to completion, outside the service (backfill, bench, tests).

``drain_mailbox`` builds the lane exactly as the service does (``IncomingLanes.build`` from a published
configuration) and runs it until a run reports nothing waiting: the folder is synchronised to its
end and no ledger row is due. It is safe next to a running service: the ledger's claims keep two
workers off the same message, and the CRM's duplicate check keeps a message to one activity.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from router.clock import Clock, SystemClock
from router.config import Direction, MailboxAssignment
from router.config.published import PublishedConfig, load_published
from router.ews import perf
from router.home import Home
from router.pipeline.incoming.checkpoints import Checkpoint, no_checkpoint
from router.pipeline.incoming.lanes import IncomingLanes
from router.runtime.metrics import Metrics
from router.runtime.outcome import WorkContext
from router.runtime.resources import Resources
from router.service.directory import served_assignment

MAX_RUNS = 100_000
"""A guard against a lane that reports work waiting for ever."""


@dataclass(frozen=True)
class DrainReport:
    """What draining did: runs, messages processed, and the time it took.

    ``cpu_seconds`` is the CPU time of the thread that ran the lane (``time.thread_time``): the lane's
    own cost, including an embedded CRM, but not that of a simulator or server running in the same
    process on other threads.
    """

    mailbox: str
    runs: int
    processed: int
    wall_seconds: float
    cpu_seconds: float


def assignment_of(resources: Resources, config: PublishedConfig, mailbox: str) -> MailboxAssignment:
    """``mailbox`` as the service serves its incoming mail under ``config`` (a mailbox the CRM's Load Data
    lists is served without a binding); ConfigError saying why when it is not served incoming."""
    return served_assignment(config, mailbox, Direction.INCOMING, source=resources.gateway,
                             clock=resources.clock)


def drain_mailbox(lanes: IncomingLanes, config: PublishedConfig, mailbox: str) -> DrainReport:
    """Run ``mailbox``'s lane (built by ``lanes``) until nothing is waiting; errors are raised."""
    assignment = assignment_of(lanes.resources, config, mailbox)
    work = lanes.build(assignment, Direction.INCOMING, config)
    context = WorkContext(work.key)
    wall, cpu = time.perf_counter(), time.thread_time()
    runs = processed = 0
    try:
        while runs < MAX_RUNS:
            result = work(context)
            runs += 1
            processed += result.processed
            if result.waiting == 0:
                break
    finally:
        work.close()
    return DrainReport(assignment.address, runs, processed, time.perf_counter() - wall,
                       time.thread_time() - cpu)


def drain_home(home: Home, mailbox: str, *, clock: Clock | None = None,
               checkpoint: Checkpoint = no_checkpoint) -> DrainReport:
    """Drain ``mailbox`` with the home's newest published configuration and its own resources."""
    perf.install()
    config = load_published(home)
    resources = Resources(home, clock or SystemClock(), Metrics())
    lanes = IncomingLanes(resources, checkpoint=checkpoint, notifications=False)
    try:
        return drain_mailbox(lanes, config, mailbox)
    finally:
        lanes.close()
        resources.close()

"""Run one outgoing lane once in a process of its own, killed with SIGKILL when it reaches a step.

    python -m tests.flows.outgoing.lane_runner HOME MAILBOX STEP CLOCK_ISO

The lane is built exactly as the service builds it (``OutgoingLanes(resources).build`` from the newest
published configuration of HOME, for the mailbox as the service's directory serves it); the only
difference is the injected checkpoint hook, which kills the process the first time STEP is reached.
The clock is frozen at CLOCK_ISO so that the test, which runs the recovery in its own process, decides
how much time passed. Exit status 0 means STEP was never reached; a killed run ends with -SIGKILL.
"""

from __future__ import annotations

import os
import signal
import sys
from datetime import datetime
from pathlib import Path

from router.clock import FrozenClock
from router.config import Direction, load_published
from router.home import Home
from router.pipeline.outgoing.lane import OutgoingLanes
from router.pipeline.outgoing.steps import Step
from router.runtime.lane import LaneKey
from router.runtime.metrics import Metrics
from router.runtime.outcome import WorkContext
from router.runtime.resources import Resources
from router.service.directory import served_assignment


def killer(target: Step) -> object:
    """A checkpoint hook that kills this process, unannounced, at ``target``."""

    def checkpoint(step: Step, email_id: str) -> None:
        if step is target:
            os.kill(os.getpid(), signal.SIGKILL)

    return checkpoint


def main(argv: list[str]) -> int:
    home, mailbox, step, when = Home(Path(argv[0])), argv[1], Step(argv[2]), datetime.fromisoformat(argv[3])
    config = load_published(home)
    resources = Resources(home, FrozenClock(when), Metrics())
    try:
        lanes = OutgoingLanes(resources, checkpoint=killer(step))  # type: ignore[arg-type]
        assignment = served_assignment(config, mailbox, Direction.OUTGOING, source=resources.gateway,
                                       clock=resources.clock)
        work = lanes.build(assignment, Direction.OUTGOING, config)
        print(work(WorkContext(LaneKey(mailbox, Direction.OUTGOING))))
    finally:
        resources.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

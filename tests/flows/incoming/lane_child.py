"""A child process for the exactly-once tests: drains one mailbox's lane and SIGKILLs itself at a step.

Usage: ``python -m tests.flows.incoming.lane_child HOME MAILBOX STEP N [--minutes M]
[--max-recoveries R]`` — run the lane built by ``IncomingLanes`` from HOME's published configuration
(which points at a simulator the parent runs) and kill this process, without any clean-up, the N-th
time the lane reaches STEP. The router's clock runs M minutes ahead (a restart that long after an
earlier crash); R is the claim policy's crash takeovers before a message is given up. Exits 0 when the
lane finished without reaching that point.
"""

from __future__ import annotations

import argparse
import os
import signal
from datetime import timedelta
from pathlib import Path

from router.config import load_published
from router.home import Home
from router.pipeline.incoming.checkpoints import Step
from router.pipeline.incoming.lanes import IncomingLanes
from router.runtime.metrics import Metrics
from router.runtime.resources import Resources
from router.service.drain import drain_mailbox
from router.state import ClaimPolicy, StateStore
from tests.flows.incoming.rig import ShiftedClock


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("home", type=Path)
    parser.add_argument("mailbox")
    parser.add_argument("step", type=Step)
    parser.add_argument("nth", type=int)
    parser.add_argument("--minutes", type=float, default=0.0)
    parser.add_argument("--max-recoveries", type=int, default=ClaimPolicy().max_recoveries)
    args = parser.parse_args()
    remaining = args.nth

    def checkpoint(reached: Step) -> None:
        nonlocal remaining
        if reached is args.step:
            remaining -= 1
            if remaining == 0:
                os.kill(os.getpid(), signal.SIGKILL)

    home, clock = Home(args.home), ShiftedClock(timedelta(minutes=args.minutes))
    store = StateStore.open_home(home, clock, policy=ClaimPolicy(max_recoveries=args.max_recoveries))
    resources = Resources(home, clock, Metrics(), store=store)
    lanes = IncomingLanes(resources, checkpoint=checkpoint, notifications=False)
    try:
        drain_mailbox(lanes, load_published(home), args.mailbox)
    finally:
        lanes.close()
        resources.close()
        store.close()


if __name__ == "__main__":
    main()

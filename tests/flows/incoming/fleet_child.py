"""A child process for the three-instance exactly-once tests: one instance that dies or freezes.

Usage: ``python -m tests.flows.incoming.fleet_child HOME DATABASE_URL INSTANCE MAILBOX ACTION STEP N`` —
serve MAILBOX's incoming lane as router instance INSTANCE (``fleet_kit.LeasedLane``: the real lease
keeper, the lane gated by its lease) and, the N-th time the lane reaches STEP, ACTION:

* ``kill``: SIGKILL this process (no clean-up: its lease runs out, its claims stay behind);
* ``stop``: SIGSTOP this process. STEP ``before-deliver`` is the worst moment: right after
  ``ensure_lease`` passed and before the DeliverIncomingEmail call. The parent lets another instance
  take the lane over, then sends SIGCONT: the call goes out with the old fencing token.

Exits 0 when the lane finished (or found it no longer holds the lane) without reaching that point.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path

from router.home import Home
from router.pipeline.incoming import deliver
from router.pipeline.incoming.checkpoints import Step
from tests.flows.incoming.fleet_kit import LeasedLane

BEFORE_DELIVER = "before-deliver"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("home", type=Path)
    parser.add_argument("database_url")
    parser.add_argument("instance")
    parser.add_argument("mailbox")
    parser.add_argument("action", choices=["kill", "stop"])
    parser.add_argument("step")
    parser.add_argument("nth", type=int)
    args = parser.parse_args()
    remaining = args.nth
    signum = signal.SIGKILL if args.action == "kill" else signal.SIGSTOP

    def reached(step: str) -> bool:
        nonlocal remaining
        if step == args.step:
            remaining -= 1
            if remaining == 0:
                os.kill(os.getpid(), signum)
                return True
        return False

    if args.step == BEFORE_DELIVER:
        checked = deliver.ensure_lease

        def ensure_then_freeze() -> None:
            checked()  # The real check passes: the lease has its margin left...
            if reached(BEFORE_DELIVER):  # ...and the process freezes before the call goes out.
                print("woke before delivering", flush=True)

        deliver.ensure_lease = ensure_then_freeze  # type: ignore[assignment]

    lane = LeasedLane(Home(args.home), args.database_url, args.instance, args.mailbox,
                      checkpoint=lambda step: _ignore(reached(Step(step).value)))
    with lane:
        lane.start()
        if not lane.wait_held(30):
            sys.exit("the lane's lease was never acquired")
        while lane.holds():
            if lane.run().waiting == 0:
                break
    print("finished" if lane.holds() else "lost the lane", flush=True)


def _ignore(_: object) -> None:
    """A checkpoint returns nothing."""


if __name__ == "__main__":
    main()

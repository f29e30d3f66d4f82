"""A child process for the three-instance exactly-once tests: one instance that dies or freezes.

Usage: ``python -m tests.flows.fleet_child HOME DATABASE_URL INSTANCE MAILBOX DIRECTION ACTION STEP N`` —
serve MAILBOX's DIRECTION lane as router instance INSTANCE (``fleet_kit.LeasedLane``: the real lease
keeper, the lane gated by its lease) and, the N-th time the lane reaches STEP (a checkpoint step of the
direction), ACTION:

* ``kill``: SIGKILL this process (no clean-up: its lease runs out, its claims stay behind);
* ``stop``: SIGSTOP this process. STEP ``before-side-effect`` is the worst moment: right after
  ``ensure_lease`` passed and before the CRM delivery (incoming) or the Exchange send (outgoing) goes
  out. The parent lets another instance take the lane over, then sends SIGCONT: the call goes out
  with the old fencing token, past the lease it was checked under.

Prints "woke before the side effect" when woken there, then "finished" (the lane's work ran out while
it held the lane) or "lost the lane"; exits 0 unless killed.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path

from router.config import Direction
from router.home import Home
from router.pipeline.incoming import deliver
from router.pipeline.incoming.checkpoints import Step as IncomingStep
from router.pipeline.outgoing import send
from router.pipeline.outgoing.steps import Step as OutgoingStep
from router.runtime.lane import LaneKey
from tests.flows.fleet_kit import LaneFactory, LeasedLane, incoming_lane, outgoing_lane

BEFORE_SIDE_EFFECT = "before-side-effect"
_CHECKED = {Direction.INCOMING: deliver, Direction.OUTGOING: send}
"""The module whose ``ensure_lease`` guards the direction's side effect."""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("home", type=Path)
    parser.add_argument("database_url")
    parser.add_argument("instance")
    parser.add_argument("mailbox")
    parser.add_argument("direction", type=Direction)
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

    if args.step == BEFORE_SIDE_EFFECT:
        module = _CHECKED[args.direction]
        checked = module.ensure_lease

        def ensure_then_freeze() -> None:
            checked()  # The real check passes: the lease has its margin left...
            if reached(BEFORE_SIDE_EFFECT):  # ...and the process freezes before the call goes out.
                print("woke before the side effect", flush=True)

        module.ensure_lease = ensure_then_freeze  # type: ignore[attr-defined]

    key = LaneKey(args.mailbox, args.direction)
    lane = LeasedLane(Home(args.home), args.database_url, args.instance, key, _factory(key, reached))
    with lane:
        lane.start()
        if not lane.wait_held(30):
            sys.exit("the lane's lease was never acquired")
        while lane.holds():
            if lane.run().waiting == 0:
                break
    print("finished" if lane.holds() else "lost the lane", flush=True)


def _factory(key: LaneKey, reached: Callable[[str], bool]) -> LaneFactory:
    """The lane of ``key`` with a checkpoint that tells ``reached`` each step."""
    if key.direction is Direction.INCOMING:
        return incoming_lane(key.mailbox, lambda step: _ignore(reached(IncomingStep(step).value)))
    return outgoing_lane(key.mailbox, lambda step, email_id: _ignore(reached(OutgoingStep(step).value)))


def _ignore(_: object) -> None:
    """A checkpoint returns nothing."""


if __name__ == "__main__":
    main()

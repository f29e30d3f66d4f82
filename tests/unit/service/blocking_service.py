"""A service whose one lane never finishes, run as a process by the forced-exit test.

``python -m tests.unit.service.blocking_service HOME`` prints ``RUNNING`` once the lane's run has
begun, logs to stderr, and prints ``RETURNED`` if ``run_until_signalled`` ever returns.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path

from router.config import Direction, MailboxAssignment, PublishedConfig, load_published
from router.home import Home
from router.runtime.outcome import LaneWork, WorkContext, WorkResult
from router.runtime.registry import LaneWorkRegistry
from router.service.logs import ServiceLogging
from router.service.service import Service


def never_ending(assignment: MailboxAssignment, direction: Direction, config: PublishedConfig) -> LaneWork:
    def work(context: WorkContext) -> WorkResult:
        print("RUNNING", flush=True)
        threading.Event().wait()  # Ignores cancellation on purpose: only a forced exit ends it.
        return WorkResult()

    return work


def main(root: str) -> None:
    home = Home(Path(root))
    config = load_published(home)
    logs = ServiceLogging(home, config.profiles.settings, stream=sys.stderr)
    registry = LaneWorkRegistry()
    registry.register(Direction.INCOMING, never_ending)
    Service(home, registry, logs=logs).run_until_signalled(grace=60.0, config=config)
    print("RETURNED", flush=True)


if __name__ == "__main__":
    main(sys.argv[1])

"""Waiting for an outcome with a deadline, and saying clearly what did not happen when it passes."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from router.errors import HarnessError

T = TypeVar("T")


def wait_until(check: Callable[[], T | None], *, timeout: float, what: str, interval: float = 0.1,
               log: Callable[[], str] | None = None) -> T:
    """Call ``check`` until it returns something truthy and return that; HarnessError after ``timeout``.

    ``what`` completes "... did not happen": e.g. "the router delivered Carol's message to the CRM".
    ``log`` (e.g. the router's log tail) is added to the error to show why.
    """
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() >= deadline:
            tail = f"\nlast lines of the log:\n{log()}" if log is not None else ""
            raise HarnessError(f"after {timeout:g} s, still not done: {what}{tail}",
                               hint="read the router's log; the work directory is kept with --keep")
        time.sleep(interval)

"""Faults a test or tester can make the facade answer with: busy (429/503 with Retry-After), errors, drops.

Each fault matches requests whose method and path contain its ``match`` text and is used ``times``
times. Status 0 drops the connection without an answer, as a reset network or a crashed front end
would.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

DROP = 0


@dataclass
class Fault:
    """One planned fault."""

    status: int
    times: int
    match: str = ""
    retry_after: float | None = None
    code: str = "0x80072322"
    message: str = "Number of requests exceeded the limit (fault injected by the facade)."


class FaultPlan:
    """The facade's queue of planned faults; thread-safe."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def add(
        self,
        status: int,
        *,
        times: int = 1,
        match: str = "",
        retry_after: float | None = None,
        code: str = "0x80072322",
        message: str | None = None,
    ) -> None:
        """Answer the next ``times`` matching requests with ``status`` (0: drop the connection)."""
        fault = Fault(status, times, match, retry_after, code)
        if message:
            fault.message = message
        with self._lock:
            self._faults.append(fault)

    def take(self, method: str, path: str) -> Fault | None:
        """Return (and use up once) the first fault matching this request, if any."""
        target = f"{method} {path}"
        with self._lock:
            for fault in self._faults:
                if fault.match in target:
                    fault.times -= 1
                    if fault.times <= 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def clear(self) -> None:
        """Forget every planned fault."""
        with self._lock:
            self._faults.clear()

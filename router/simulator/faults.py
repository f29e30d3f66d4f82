"""Scripted faults: make chosen operations fail the way a struggling Exchange server does.

A fault applies to one operation (or ``*``) for its next ``count`` requests, or to a ``rate`` fraction
of them (a seeded random source keeps runs reproducible). Kinds: ErrorServerBusy with
BackOffMilliseconds, HTTP 500 / 503 / 401, a slow response, a dropped connection, malformed XML.
"""

from __future__ import annotations

import random
import threading
from dataclasses import asdict, dataclass
from enum import Enum

from router.errors import SimulatorError


class FaultKind(Enum):
    SERVER_BUSY = "server_busy"
    HTTP_500 = "http_500"
    HTTP_503 = "http_503"
    HTTP_401 = "http_401"
    SLOW = "slow"
    DROP = "drop"
    MALFORMED = "malformed"


@dataclass
class Fault:
    """One scripted fault."""

    kind: FaultKind
    operation: str = "*"
    count: int | None = 1
    rate: float | None = None
    back_off_ms: int = 30000
    delay_seconds: float = 1.0
    hits: int = 0

    def describe(self) -> dict[str, object]:
        data = asdict(self)
        data["kind"] = self.kind.value
        return data


def make_fault(
    kind: str,
    operation: str = "*",
    count: int | None = None,
    rate: float | None = None,
    back_off_ms: int = 30000,
    delay_seconds: float = 1.0,
) -> Fault:
    """Build a fault from loose arguments, with a clear error for bad ones."""
    try:
        fk = FaultKind(kind)
    except ValueError as exc:
        raise SimulatorError(
            f"unknown fault kind '{kind}'", hint="use one of: " + ", ".join(k.value for k in FaultKind)
        ) from exc
    if rate is not None and not 0.0 < rate <= 1.0:
        raise SimulatorError(f"fault rate {rate} is not in (0, 1]", hint="give a rate like 0.2 for 20%")
    if count is not None and count < 1:
        raise SimulatorError(f"fault count {count} must be at least 1", hint="omit --count for 'once'")
    return Fault(fk, operation or "*", count if rate is None else None, rate, back_off_ms, delay_seconds)


class FaultPlan:
    """The active faults; ``pick`` consumes one matching fault for a request, if any applies."""

    def __init__(self, seed: int = 1) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self._random = random.Random(seed)

    def add(self, fault: Fault) -> Fault:
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def active(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    def pick(self, operation: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.operation not in ("*", operation):
                    continue
                if fault.rate is not None:
                    if self._random.random() < fault.rate:
                        fault.hits += 1
                        return fault
                    continue
                fault.hits += 1
                if fault.count is not None and fault.hits >= fault.count:
                    self._faults.remove(fault)
                return fault
        return None

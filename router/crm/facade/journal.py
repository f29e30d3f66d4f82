"""What the facade did with each request it received, so tests can check what happened on the wire.

A test that plans a fault (a dropped connection, a busy answer) must be able to tell that the fault
was met and that the client came back afterwards; the journal records, in arrival order, each
authenticated request's method, path and what became of it: the status answered, or ``dropped``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

DROPPED = "dropped"


@dataclass(frozen=True)
class Served:
    """One request: its method, its path (with query) and the status answered, or ``dropped``."""

    method: str
    path: str
    result: int | str


class Journal:
    """The facade's record of requests, bounded to the last ``limit``; thread-safe."""

    def __init__(self, limit: int = 10_000) -> None:
        self._entries: list[Served] = []
        self._limit = limit
        self._lock = threading.Lock()

    def record(self, method: str, path: str, result: int | str) -> None:
        """Add one request's outcome, forgetting the oldest past the limit."""
        with self._lock:
            self._entries.append(Served(method, path, result))
            del self._entries[:-self._limit]

    def entries(self, match: str = "") -> list[Served]:
        """The recorded requests whose ``"METHOD path"`` contains ``match``, oldest first."""
        with self._lock:
            return [e for e in self._entries if match in f"{e.method} {e.path}"]

    def clear(self) -> None:
        """Forget every recorded request."""
        with self._lock:
            self._entries.clear()

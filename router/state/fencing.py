"""The fence of the lane whose work runs on this thread: checked first in every write transaction.

Several router instances share one database; each lane (mailbox, direction) is served by the instance
holding its lease (see ``leases``). While a worker runs a lane's work, the service binds that lane's
fence to the worker's context (``bound``); ``Database.write`` then calls it first in every write
transaction, so a run whose lease was taken over (the instance was paused past its lease) cannot
write anything more for the lane. With no fence bound (SQLite, one instance, work outside a lane)
writes are unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from sqlalchemy import Connection

Fence = Callable[[Connection], None]
"""Raises (ClaimLostError) inside the transaction when the writer no longer holds its lane."""

_current: ContextVar[Fence | None] = ContextVar("lane_fence", default=None)


@contextmanager
def bound(fence: Fence) -> Iterator[None]:
    """Check ``fence`` in every write transaction of this thread (context) until the block ends."""
    token = _current.set(fence)
    try:
        yield
    finally:
        _current.reset(token)


def check(conn: Connection) -> None:
    """Run the bound fence, if any, on the write transaction ``conn``."""
    fence = _current.get()
    if fence is not None:
        fence(conn)

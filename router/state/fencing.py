"""The fence of the lane whose work runs on this thread: checked first in every write transaction.

Several router instances share one database; each lane (mailbox, direction) is served by the instance
holding its lease (see ``leases``). While a worker runs a lane's work, the service binds that lane's
fence to the worker's context (``bound``); ``Database.write`` then calls it first in every write
transaction, so a run whose lease was taken over (the instance was paused past its lease) cannot
write anything more for the lane. With no fence bound (SQLite, one instance, work outside a lane)
writes are unchanged.

``bound`` also makes the lane's fencing token (``LaneToken``) visible to the code the work calls
(``current_token``), so that a side effect outside the state store can carry it to a system able to
refuse a stale token: the embedded CRM keeps the highest token it saw per lane and refuses a call with
a lower one, the way a fenced storage service does (see ``router.crm.embedded.fences``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from sqlalchemy import Connection

Fence = Callable[[Connection], None]
"""Raises (ClaimLostError) inside the transaction when the writer no longer holds its lane."""


@dataclass(frozen=True)
class LaneToken:
    """The lane a run works for, and the fencing token of the lease it holds on it."""

    lane: str
    """``direction:mailbox`` (the mailbox in lower case)."""
    token: int

    @classmethod
    def of(cls, mailbox: str, direction: str, token: int) -> LaneToken:
        return cls(f"{direction}:{mailbox.lower()}", token)


_current: ContextVar[Fence | None] = ContextVar("lane_fence", default=None)
_token: ContextVar[LaneToken | None] = ContextVar("lane_token", default=None)


@contextmanager
def bound(fence: Fence, token: LaneToken | None = None) -> Iterator[None]:
    """Check ``fence`` in every write transaction of this thread (context) until the block ends, and
    make ``token`` the ``current_token``."""
    reset = _current.set(fence)
    reset_token = _token.set(token)
    try:
        yield
    finally:
        _token.reset(reset_token)
        _current.reset(reset)


def check(conn: Connection) -> None:
    """Run the bound fence, if any, on the write transaction ``conn``."""
    fence = _current.get()
    if fence is not None:
        fence(conn)


def current_token() -> LaneToken | None:
    """The fencing token of the lane whose work runs here (None outside a leased lane)."""
    return _token.get()

"""The lanes this router instance holds, and the checks that keep a lane it lost from being worked.

When several instances share a PostgreSQL state database, each lane (mailbox, direction) is served by
the instance holding its lease (``router.state.leases``). ``LeaseBook`` is this run's view of its
leases: the service's lease keeper fills it, and ``GatedWork`` wraps each lane's work so that

* a lane this run does not hold does nothing (the run is idle; the keeper wakes the lane when it
  acquires it);
* every state write of a run is fenced with the token of the lease the run started under
  (``router.state.fencing``), so a run whose lane moved on cannot write for it — not even once this
  instance has taken the lane again under a newer token;
* right before each side effect (a CRM delivery, an EWS or Graph send) the pipeline calls
  ``ensure_lease``, which refuses (ClaimLostError) unless the lease the run started under still has
  ``margin`` seconds to run by this process's monotonic clock. An instance paused (SIGSTOP) past its
  lease therefore wakes to a refusal before it can deliver or send what another instance has taken
  over. The margin covers the time
  between the check and the side effect and a skew between the hosts' clocks;
* the lane's fencing token is bound for the run (``fencing.current_token``), so the side effect itself
  can carry it: the embedded CRM refuses a CheckIncomingEmail or DeliverIncomingEmail whose token is
  older than one it has already seen for the lane.

``ensure_lease`` alone cannot close the window between the check and the side effect: a process paused
(SIGSTOP, a VM stall) right after the check wakes with the call still to make, and no clock of its own
can tell. Two things close it. A system that can check a fencing token refuses the late call (the
embedded CRM does). For one that cannot (Dynamics, Exchange), the instance that takes a lane over
leaves the old holder's claims alone until the old lease has ended plus the longest a call started
under it can take (``LaneLeases(settle=...)``, see ``router.service.lease_keeper``): a call the old
holder started before its lease ran out has landed by then, so the new holder sees it (the CRM's
Check answers Duplicate) instead of racing it. Only a pause of more than that bound exactly between
the check and the first byte on the wire remains; the CRM's duplicate check still keeps one activity
then.

Without a book (SQLite, one instance) ``ensure_lease`` does nothing and work runs as before.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from sqlalchemy import Connection

from router.errors import ClaimLostError
from router.runtime.lane import LaneKey
from router.runtime.outcome import Closeable, LaneWork, WorkContext, WorkResult
from router.state import fencing
from router.state.fencing import LaneToken
from router.state.leases import LaneLease, LaneLeases

log = logging.getLogger(__name__)

_side_effect_check: ContextVar[Callable[[], None] | None] = ContextVar("lane_lease_check", default=None)


def ensure_lease() -> None:
    """Raise ClaimLostError if the lane whose work runs here is no longer safely held; call it right
    before a side effect outside the state store (a CRM delivery, an EWS send)."""
    check = _side_effect_check.get()
    if check is not None:
        check()


@dataclass
class _Held:
    lease: LaneLease
    deadline: float
    """When the lease runs out by this process's monotonic clock (measured from before the renewal)."""


class LeaseBook:
    """The leases this run holds, the runs in flight on them, and their checks (see the module)."""

    def __init__(self, leases: LaneLeases, margin: float,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.leases = leases
        self.margin = margin
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._held: dict[LaneKey, _Held] = {}
        self._running: dict[LaneKey, threading.Event] = {}

    def held(self) -> list[LaneKey]:
        """The lanes held, sorted."""
        with self._lock:
            return sorted(self._held)

    def lease(self, key: LaneKey) -> LaneLease | None:
        """The lease of ``key`` if this run holds it."""
        with self._lock:
            held = self._held.get(key)
            return held.lease if held is not None else None

    def remaining(self, key: LaneKey) -> float | None:
        """Seconds left on the lease of ``key`` by the monotonic clock (None if not held)."""
        with self._lock:
            held = self._held.get(key)
            return None if held is None else held.deadline - self._monotonic()

    def in_flight(self) -> set[LaneKey]:
        """The lanes with a run in flight now."""
        with self._lock:
            return set(self._running)

    def running(self, key: LaneKey) -> bool:
        """True while a run of ``key`` is in flight."""
        with self._lock:
            return key in self._running

    def hold(self, leases: list[LaneLease], asked_at: float, seconds: float) -> list[LaneKey]:
        """Record ``leases`` as held (acquired or renewed by a request sent at ``asked_at``)."""
        keys = []
        with self._lock:
            for lease in leases:
                key = LaneKey(lease.mailbox, lease.direction)  # type: ignore[arg-type]
                self._held[key] = _Held(lease, asked_at + seconds)
                keys.append(key)
        return keys

    def keep_only(self, keys: set[LaneKey]) -> list[LaneKey]:
        """Forget every held lane not in ``keys`` (its lease was lost); cancel its run. Returns them."""
        with self._lock:
            lost = [key for key in self._held if key not in keys]
            for key in lost:
                del self._held[key]
                cancel = self._running.get(key)
                if cancel is not None:
                    cancel.set()
        return lost

    def give_up(self, key: LaneKey) -> bool:
        """Stop holding ``key`` unless a run of it is in flight; True when it may be released now."""
        with self._lock:
            if key in self._running:
                return False
            return self._held.pop(key, None) is not None

    def forget_all(self) -> None:
        """Hold nothing any more (a stop): runs still in flight fail their next write or side effect."""
        with self._lock:
            self._held.clear()
            for cancel in self._running.values():
                cancel.set()

    def safe(self, key: LaneKey) -> bool:
        """True when ``key`` is held with at least ``margin`` seconds to run."""
        with self._lock:
            held = self._held.get(key)
            return held is not None and held.deadline - self._monotonic() > self.margin

    def check(self, key: LaneKey, token: int | None = None) -> None:
        """Raise ClaimLostError unless ``key`` is safely held (see ``safe``) — under lease ``token`` when
        given: a run is bound to the lease it started under (see ``run``)."""
        lease = self.lease(key)
        if not self.safe(key) or (token is not None and (lease is None or lease.token != token)):
            raise ClaimLostError(
                f"this router instance no longer safely holds the lease on lane {key}"
                + ("" if token is None else f" it started this run under (token {token})"),
                hint="another instance serves the lane now (or served it meanwhile, or the state database "
                "could not be reached to renew the lease); nothing was sent or delivered",
                mailbox=key.mailbox)

    def fence(self, key: LaneKey, conn: Connection, lease: LaneLease | None = None) -> None:
        """The state fence of ``key``: the token of ``lease`` (default: the lease held now) must still be
        current in the database."""
        lease = lease or self.lease(key)
        if lease is None:
            self.check(key)  # Raises: the lane is not held.
            return
        self.leases.fence(conn, lease)

    @contextmanager
    def run(self, key: LaneKey, cancel: threading.Event) -> Iterator[bool]:
        """Around one run of ``key``: yields whether the lane is held; fences writes and side effects."""
        with self._lock:
            if key in self._running:
                raise RuntimeError(f"lane {key} is already running")
            self._running[key] = cancel
        try:
            if not self.safe(key):
                yield False
                return
            # The run is bound to the lease it starts under: its writes are fenced and its side effects
            # checked with that lease's token. Should the instance lose the lane during the run (paused
            # past its lease) and acquire it again under a new token, the run — working from what it
            # read under the old one — is refused, not let through by the new lease.
            lease = self.lease(key)
            lane_token = None if lease is None else LaneToken.of(lease.mailbox, lease.direction, lease.token)
            started = None if lease is None else lease.token
            token = _side_effect_check.set(lambda: self.check(key, started))
            try:
                with fencing.bound(lambda conn: self.fence(key, conn, lease), lane_token):
                    yield True
            finally:
                _side_effect_check.reset(token)
        finally:
            with self._lock:
                self._running.pop(key, None)


class GatedWork:
    """Lane work that runs only while this instance holds the lane (see the module)."""

    def __init__(self, key: LaneKey, work: LaneWork, book: LeaseBook) -> None:
        self._key = key
        self._work = work
        self._book = book

    def __call__(self, context: WorkContext) -> WorkResult:
        with self._book.run(self._key, context.cancel_event) as held:
            if not held:
                return WorkResult()
            token = self._token()
            try:
                return self._work(context)
            except ClaimLostError:
                if self._book.safe(self._key) and self._token() == token:
                    raise
                # The lane moved to another instance during the run (even if this instance has since
                # acquired it again, under a new token): not a failure of the mailbox.
                log.info("lane %s: the run stopped because this instance no longer holds the lane", self._key,
                         extra={"mailbox": self._key.mailbox})
                return WorkResult()

    def _token(self) -> int | None:
        lease = self._book.lease(self._key)
        return None if lease is None else lease.token

    def close(self) -> None:
        if isinstance(self._work, Closeable):
            self._work.close()

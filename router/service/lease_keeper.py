"""The lease keeper: this instance's share of the lanes when several instances share PostgreSQL.

Every ``lease_seconds / 6`` seconds (and half a second after the start) the keeper

1. adds a lease row for every lane the scheduler knows that has none yet;
2. renews the leases this run holds; a lane missing from the answer was lost (the instance was paused
   or cut off from the database past its lease) and its run in flight is cancelled;
3. works out its fair share (``ceil(lanes / live instances) + slack``; live by heartbeat) and hands
   back lanes beyond it (only lanes with no run in flight, so a hand-over never interrupts work), or
   acquires free and expired lanes up to it (``FOR UPDATE SKIP LOCKED``: two instances never wait for
   each other nor take the same lane) and wakes them in the scheduler.

A dead instance's leases run out after ``lease_seconds`` and are acquired at the others' next turn
(its messages in flight are recovered ``longest_call`` less the margin later, once any call it may
have started under the lease has landed: see ``router.state.leases``);
a new instance counts in the others' fair share as soon as its heartbeat is written, so they hand
lanes over without a restart. At a graceful stop (``close``, after the scheduler drained) every lease
is released at once, except those of lanes whose run the stop abandoned: they run out like a dead
instance's, so the next holder takes over that run's claims.

Each turn first checks that this run still holds its instance's lock (``InstanceRun.holds_lock``): if
the connection holding it dropped, the lock is taken again on a new one and the turn goes on (the
leases are renewed with the tokens they had, or re-acquired with new ones if they ran out meanwhile);
if another run of the instance took the lock meanwhile, this run is *deposed*: it forgets every lease
and never acquires one again, since that run took its leases back.

If the database cannot be reached the leases are not renewed: the book stops trusting them ``margin``
seconds before they run out, the lanes pause, and the next successful turn takes them up again and
raises the alert ``state_store_unreachable`` saying how long the instance was cut off.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

from router.config.common import Timeouts
from router.config.published import PublishedConfig
from router.config.settings import SystemSettings
from router.errors import StateStoreError
from router.runtime.lane import LaneKey
from router.runtime.lane_lease import GatedWork, LeaseBook
from router.runtime.outcome import LaneWork
from router.service.periodic import Periodic
from router.state import StateStore
from router.state.instances import RunIdentity
from router.state.leases import LaneLeases, fair_share

log = logging.getLogger(__name__)

FIRST_TURN_SECONDS = 0.5
REPLACED_ALERT = "instance_replaced"
"""Alert raised when a run finds another run of its instance holding the instance's lock."""
STATE_STORE_ALERT = "state_store_unreachable"
"""Alert raised when an instance reaches the state database again after losing it (its lanes paused)."""


CALL_SECONDS = Timeouts().connect_seconds + Timeouts().read_seconds
"""The longest a side effect may take with the default timeouts (a Dynamics call or an EWS send ends
within its connect + read timeouts: 130 s): a call started under a lease has landed by the lease's end
plus this, less the margin it was started with. ``longest_call`` takes the configured timeouts."""


def longest_call(config: PublishedConfig | None) -> float:
    """The longest connect + read timeout of the configured profiles and Dynamics deployments (at least
    the default's): no CRM call or Exchange request the router starts lasts longer."""
    calls = [CALL_SECONDS]
    if config is not None:
        profiles = config.profiles
        calls += [p.timeouts.connect_seconds + p.timeouts.read_seconds for p in profiles.profiles.values()]
        calls += [d.dynamics.timeouts.connect_seconds + d.dynamics.timeouts.read_seconds
                  for d in profiles.deployments.values() if d.dynamics is not None]
    return max(calls)


def margin(settings: SystemSettings) -> float:
    """Seconds of lease an instance must have left to start a side effect (``LeaseBook.margin``)."""
    return settings.lease_seconds / 3


def lane_leases(store: StateStore, settings: SystemSettings, call_seconds: float | None = None) -> LaneLeases:
    """The lease table with this deployment's lease and settle time (see ``router.state.leases``):
    ``call_seconds`` (default ``CALL_SECONDS``) less the margin."""
    call = CALL_SECONDS if call_seconds is None else call_seconds
    settle = max(0.0, call - margin(settings))
    return LaneLeases(store.db, store.clock, timedelta(seconds=settings.lease_seconds),
                      settle=timedelta(seconds=settle))


class LeaseKeeper:
    """Acquires, renews and hands back this run's lane leases (see the module)."""

    def __init__(self, store: StateStore, identity: RunIdentity, settings: SystemSettings,
                 lanes: Callable[[], list[LaneKey]], wake: Callable[[LaneKey], object],
                 guard: Callable[[], bool] = lambda: True, call_seconds: float | None = None) -> None:
        """``guard`` runs first in every turn: False when this run is no longer its instance's only run
        (``InstanceRun.holds_lock``), and the keeper is deposed. ``call_seconds``: see ``longest_call``."""
        self.store = store
        self._guard = guard
        self.deposed = False
        self.identity = identity
        self.seconds = settings.lease_seconds
        self.book = LeaseBook(lane_leases(store, settings, call_seconds), margin=margin(settings),
                              monotonic=store.clock.monotonic)
        self._lanes = lanes
        self._wake = wake
        self._known: set[LaneKey] = set()
        self._turns = 0
        self._seen_lanes = False
        self._down_since: float | None = None
        self._periodic = Periodic(f"lane-leases-{identity.instance}", self.turn, self._period)

    def gate(self, key: LaneKey, work: LaneWork) -> LaneWork:
        """``work``, run only while this instance holds ``key``."""
        return GatedWork(key, work, self.book)

    def start(self) -> None:
        self._periodic.start()

    def turn(self) -> None:
        """One round of ensure, renew, rebalance (see the module); a database error waits for the next."""
        if self.deposed:
            return
        try:
            if not self._guard():
                self.depose()
                return
            self._turn()
        except StateStoreError as exc:
            if self._down_since is None:
                self._down_since = self.store.clock.monotonic()
                log.error("instance %s cannot renew its lane leases: %s; its lanes pause until the state "
                          "database answers again", self.identity.instance, exc)
            return
        if self._down_since is not None:
            self._reconnected(self.store.clock.monotonic() - self._down_since)
        self._turns += 1

    def depose(self) -> None:
        """Stop acting for good: another run of this instance took over (its lock), and with it this
        run's leases; runs in flight fail their next write or side effect, and no lane is taken again."""
        self.deposed = True
        self.book.forget_all()
        text = (f"router instance {self.identity.instance}: another run of this instance took over while "
                "this run's database connection was down; this run serves no lanes any more (restart it, or "
                "give it another --instance name)")
        log.error("%s", text)
        try:
            self.store.alerts.raise_alert(REPLACED_ALERT, text)
        except StateStoreError:
            log.exception("could not record the alert %s", REPLACED_ALERT)

    def _reconnected(self, seconds: float) -> None:
        """Say (log and alert) that the database was out of reach for ``seconds`` and the lanes paused."""
        self._down_since = None
        text = (f"router instance {self.identity.instance} could not reach the state database for "
                f"{seconds:.0f} s; its lanes paused meanwhile and resumed by themselves")
        log.warning("%s", text)
        try:
            self.store.alerts.raise_alert(STATE_STORE_ALERT, text)
        except StateStoreError:
            log.exception("could not record the alert %s", STATE_STORE_ALERT)

    def _turn(self) -> None:
        lanes = sorted(self._lanes())
        self._seen_lanes = self._seen_lanes or bool(lanes)
        new = [key for key in lanes if key not in self._known]
        leases = self.book.leases
        leases.ensure((key.mailbox, key.direction.value) for key in new)
        self._known.update(new)
        asked = self.store.clock.monotonic()
        held = set(self.book.hold(leases.renew(self.identity), asked, self.seconds))
        for key in self.book.keep_only(held):
            log.warning("instance %s lost the lease on lane %s; another instance serves it now",
                        self.identity.instance, key, extra={"mailbox": key.mailbox})
        live = self._live()
        share = fair_share(len(lanes), len(live), slack=0)
        wanted = set(lanes)
        mine = sorted(held & wanted)
        surplus = [key for key in sorted(held) if key not in wanted] + mine[share:]
        if len(mine) == share and self._starved(lanes, live):
            surplus.append(mine[-1])  # Every lane is held and another instance has too few: make room.
        handed = [key for key in surplus if self.book.give_up(key)]
        if handed:
            leases.release(self.identity, [(key.mailbox, key.direction.value) for key in handed])
            log.info("instance %s handed back %d lane(s) to keep to its share of %d", self.identity.instance,
                     len(handed), share)
        room = share - len((held & wanted) - set(handed))
        free = [(key.mailbox, key.direction.value) for key in lanes if key not in held]
        if room > 0 and free:
            asked = self.store.clock.monotonic()
            for key in self.book.hold(leases.acquire(self.identity, free, room), asked, self.seconds):
                self._wake(key)

    def _starved(self, lanes: list[LaneKey], live: set[str]) -> bool:
        """True when no lane is free and a live instance holds fewer than ``lanes // live`` of them."""
        now = self.store.clock.now()
        counts = dict.fromkeys(live, 0)
        for holder, _, until in self.book.leases.holders().values():
            if holder is None or until is None or until <= now:
                return False  # A free lane: whoever has too few takes it.
            if holder in counts:
                counts[holder] += 1
        return min(counts.values(), default=0) < len(lanes) // max(1, len(live))

    def _live(self) -> set[str]:
        now = self.store.clock.now()
        live = {row.instance for row in self.store.instances.all() if row.alive(now, self.seconds)}
        return live | {self.identity.instance}

    def _period(self) -> float:
        return self.seconds / 6 if self._seen_lanes else FIRST_TURN_SECONDS

    def close(self) -> None:
        """Stop the turns and hand every lane back at once (call it after the scheduler drained)."""
        self._periodic.stop()
        abandoned = self.book.in_flight()
        handed = [(key.mailbox, key.direction.value) for key in self.book.held() if key not in abandoned]
        self.book.forget_all()
        if abandoned:
            # A run the stop abandoned may be between a side effect and its record: its lanes' leases run
            # out instead, so that the next holder takes over its claims there as a crash's.
            log.warning("instance %s leaves %d lane(s) with runs still in flight to their leases",
                        self.identity.instance, len(abandoned))
        try:
            released = self.book.leases.release(self.identity, handed)
        except StateStoreError as exc:
            log.warning("instance %s could not hand its lanes back (%s); they move when the leases run out",
                        self.identity.instance, exc)
            return
        if released:
            log.info("instance %s handed back its %d lane(s)", self.identity.instance, released)

"""Several router instances on one PostgreSQL state database, and the abuse spread across them.

``Fleet`` runs N `email-router run` processes on one home (each with ``--instance soak-N`` and a log of
its own); the state lives in the PostgreSQL database the published settings name, so the instances
share the lanes through their leases. ``FleetChaos`` takes the place of the one-router ``Killer``: at
random moments it picks an instance and, in turn,

* SIGKILLs it, waits until every lane it held is held by a live run again, then starts it again;
* SIGSTOPs it past its lease, waits until its lanes moved, then SIGCONTs it (it must wake to refusals,
  neither delivering nor sending what another instance took over);
* stops it gracefully (its lanes must move at once), then starts it again.

Each wait is measured from the signal to the moment the lanes are served again: the verdict reports
the longest (``recovery_seconds_max``, kills and pauses) and the longest hand-over at a graceful stop.
Lane holders are read from the ``lane_leases`` table, never from the instances' own reports.
"""

from __future__ import annotations

import os
import random
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import select

from router.clock import SystemClock
from router.harness.routerhome import RouterHome
from router.harness.routerprocess import RouterProcess
from router.soak.settings import SoakSettings
from router.state import StateStore
from router.state.schema import lane_leases

Say = Callable[[str], None]
Lane = tuple[str, str]
POLL_SECONDS = 0.2
ACTIONS = ("kill", "pause", "stop")
RECOVERY_TARGET_SECONDS = 60.0


class Fleet:
    """N router processes on one home and one PostgreSQL state database."""

    def __init__(self, home: RouterHome, count: int, database_url: str) -> None:
        self.database_url = database_url
        self.routers: list[RouterProcess] = []
        for n in range(count):
            router = RouterProcess(home, extra_args=("--instance", instance_name(n)))
            router.log_path = home.root.parent / f"{home.root.name}-router-{n}.log"
            self.routers.append(router)

    def start(self, lease_seconds: float) -> list[int]:
        """Start every instance; return how many lanes each holds once they are spread evenly (or after
        three leases)."""
        for router in self.routers:
            router.start(wait_ready=False)
        for router in self.routers:
            router.wait_ready()
        deadline = time.monotonic() + 3 * lease_seconds
        while True:
            spread = self.spread()
            if (spread and max(spread) - min(spread) <= 1 and min(spread) > 0) or time.monotonic() > deadline:
                return spread
            time.sleep(POLL_SECONDS)

    def stop(self) -> None:
        for router in self.routers:
            if router.running:
                _signal(router, signal.SIGCONT)
                router.stop()

    def holders(self) -> dict[Lane, tuple[str, str]]:
        """Each lane whose lease is live now: (instance, run id) of its holder."""
        store = StateStore.open(self.database_url, SystemClock())
        try:
            now = store.clock.now()
            with store.db.read() as conn:
                rows = conn.execute(select(lane_leases)).all()
        finally:
            store.close()
        return {(r.mailbox, r.direction): (r.instance, r.run_id) for r in rows
                if r.instance is not None and r.lease_until is not None and r.lease_until > now}

    def lanes_of(self, n: int) -> dict[Lane, tuple[str, str]]:
        """The lanes instance ``n`` holds now, with its run."""
        name = instance_name(n)
        return {lane: holder for lane, holder in self.holders().items() if holder[0] == name}

    def spread(self) -> list[int]:
        """How many lanes each instance holds now."""
        held = self.holders()
        names = [instance_name(n) for n in range(len(self.routers))]
        return [sum(1 for holder in held.values() if holder[0] == name) for name in names]

    def wait_moved(self, lanes: dict[Lane, tuple[str, str]], timeout: float) -> float | None:
        """Seconds until every lane of ``lanes`` is held by another run than the one given; None if not
        within ``timeout``."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            held = self.holders()
            if all(lane in held and held[lane] != run for lane, run in lanes.items()):
                return time.monotonic() - started
            time.sleep(POLL_SECONDS)
        return None


def instance_name(n: int) -> str:
    return f"soak-{n}"


@dataclass
class FleetChaos:
    """Kills, pauses and gracefully stops instances of a fleet at random moments (see the module)."""

    fleet: Fleet
    settings: SoakSettings
    say: Say
    kills: int = 0
    pauses: int = 0
    stops: int = 0
    kill_times: list[datetime] = field(default_factory=list)
    """When each kill or pause happened (a re-delivery needs one before it)."""
    recoveries: list[float] = field(default_factory=list)
    handovers: list[float] = field(default_factory=list)
    unrecovered: int = 0

    def __post_init__(self) -> None:
        self._rng = random.Random(self.settings.seed)
        self._next = self._after(time.monotonic())
        self._turn = 0

    def _after(self, now: float) -> float:
        return now + self._rng.uniform(self.settings.kill_min_seconds, self.settings.kill_max_seconds)

    @property
    def actions(self) -> int:
        """Kills, pauses and graceful stops so far."""
        return self.kills + self.pauses + self.stops

    @property
    def recovery_seconds_max(self) -> float | None:
        return round(max(self.recoveries), 1) if self.recoveries else None

    def tick(self) -> None:
        """Abuse one instance if its moment has come."""
        if time.monotonic() < self._next:
            return
        n = self._rng.randrange(len(self.fleet.routers))
        action = ACTIONS[self._turn % len(ACTIONS)]
        self._turn += 1
        getattr(self, f"_{action}")(n)
        self._next = self._after(time.monotonic())

    def _patience(self) -> float:
        """How long a kill's or pause's lanes may take to be served again before they count as not
        recovered: three leases, and at least the 60 s recovery target (a paused instance frozen inside
        a transaction keeps its lease rows locked until the server ends its idle session, 30 s)."""
        return max(self.settings.lease_seconds * 3, RECOVERY_TARGET_SECONDS)

    def _kill(self, n: int) -> None:
        router, lanes = self.fleet.routers[n], self.fleet.lanes_of(n)
        router.kill()
        self.kill_times.append(datetime.now(UTC))
        self.kills += 1
        moved = self._measure(lanes, self.recoveries)
        self.say(f"SIGKILL #{self.kills} of {instance_name(n)} (pid {router.last_pid}): its {len(lanes)} "
                 f"lanes served again after {_seconds(moved)}; restarting it")
        router.start()

    def _pause(self, n: int) -> None:
        router, lanes = self.fleet.routers[n], self.fleet.lanes_of(n)
        _signal(router, signal.SIGSTOP)
        self.kill_times.append(datetime.now(UTC))
        self.pauses += 1
        moved = self._measure(lanes, self.recoveries)
        time.sleep(1.0)
        _signal(router, signal.SIGCONT)
        self.say(f"SIGSTOP #{self.pauses} of {instance_name(n)}: its {len(lanes)} lanes served by others "
                 f"after {_seconds(moved)}; SIGCONT")

    def _stop(self, n: int) -> None:
        router, lanes = self.fleet.routers[n], self.fleet.lanes_of(n)
        offset = router.log_path.stat().st_size if router.log_path.exists() else 0
        router.stop()
        self.stops += 1
        if _abandoned(router, offset):
            # Runs still going after the grace were abandoned when the process exited: a kill for them.
            self.kill_times.append(datetime.now(UTC))
            self.say(f"graceful stop #{self.stops} of {instance_name(n)} abandoned runs in flight")
        moved = self._measure(lanes, self.handovers)
        self.say(f"graceful stop #{self.stops} of {instance_name(n)}: its {len(lanes)} lanes taken over "
                 f"after {_seconds(moved)}; restarting it")
        router.start()

    def _measure(self, lanes: dict[Lane, tuple[str, str]], into: list[float]) -> float | None:
        moved = self.fleet.wait_moved(lanes, self._patience())
        if moved is None:
            self.unrecovered += 1
        else:
            into.append(moved)
        return moved


def _signal(router: RouterProcess, signum: int) -> None:
    if router.running:
        os.kill(router.pid, signum)


def _abandoned(router: RouterProcess, offset: int) -> bool:
    """True when the router's output since ``offset`` says the stop abandoned work in flight."""
    with router.log_path.open("rb") as log:
        log.seek(offset)
        return b"was abandoned" in log.read()


def _seconds(moved: float | None) -> str:
    return "[red]never[/]" if moved is None else f"{moved:.1f} s"

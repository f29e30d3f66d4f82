"""The soak's abuse: the simulator's scripted faults, and SIGKILL of the router at random moments."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from datetime import UTC, datetime

from router.harness.routerprocess import RouterProcess
from router.harness.simprocess import SimulatorProcess
from router.soak.settings import FAULT_KINDS, SoakSettings

REQUEST_LOG = 10000
"""How many recent EWS (and, apart, Graph) requests the simulator's control API remembers."""


def start_faults(sim: SimulatorProcess, settings: SoakSettings) -> None:
    """Every EWS operation fails at ``fault_rate`` overall, split evenly between the fault kinds."""
    for kind in FAULT_KINDS:
        sim.fault(kind, rate=settings.rate_per_kind, back_off_ms=500, delay_seconds=settings.slow_seconds)


def stop_faults(sim: SimulatorProcess, transport: str = "ews") -> tuple[dict[str, int], int]:
    """Clear the faults; return how many requests each kind hit, and how many requests of the
    ``transport`` (EWS or Microsoft Graph) were served.

    The simulator keeps the last ``REQUEST_LOG`` requests, so a larger count is reported as that many.
    """
    hits: dict[str, int] = {}
    for fault in sim.call("GET", "faults"):
        hits[str(fault["kind"])] = hits.get(str(fault["kind"]), 0) + int(fault["hits"])
    sim.clear_faults()
    return hits, len(sim.call("GET", "graph-requests" if transport == "graph" else "requests"))


class Killer:
    """Kills the router with SIGKILL at random intervals and starts it again at once."""

    def __init__(self, router: RouterProcess, settings: SoakSettings, say: Callable[[str], None]) -> None:
        self.router = router
        self.settings = settings
        self.say = say
        self.kills = 0
        self.kill_times: list[datetime] = []
        """When each kill had happened (for the delivery audit: a re-delivery needs a kill before it)."""
        self._rng = random.Random(settings.seed)
        self._next = self._after(time.monotonic())

    def _after(self, now: float) -> float:
        return now + self._rng.uniform(self.settings.kill_min_seconds, self.settings.kill_max_seconds)

    def tick(self) -> None:
        """Kill and restart the router if its moment has come."""
        now = time.monotonic()
        if now < self._next:
            return
        self.router.kill()
        self.kill_times.append(datetime.now(UTC))
        self.kills += 1
        self.say(f"SIGKILL #{self.kills} (pid {self.router.last_pid}); restarting the router")
        self.router.start()
        self._next = self._after(time.monotonic())

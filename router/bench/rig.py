"""A rig for the router's own scenarios: a simulator process and a router home serving an organisation.

The router (`email-router run`, a subprocess) is started for each timed run and stopped after it, so a
run is "from ready to done" with the work prepared while the router was down: its CPU is read from
``/proc`` (the benchmark's own polling of the CRM is not counted), the simulator's likewise.

Shutdown is not what is measured, so after a run (and a moment for acknowledgements still in flight)
the router is stopped with SIGKILL, which it is built to survive; the simulator is stopped normally.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

from sqlalchemy import func, select

from router.bench.measure import Sample
from router.crm.codes import EmailStatus
from router.crm.embedded import EmbeddedCrm
from router.crm.embedded.schema import email
from router.crm.gateway import RecordRef
from router.harness.org import Organisation
from router.harness.routerhome import RouterHome
from router.harness.routerprocess import RouterProcess
from router.harness.simprocess import SimulatorProcess
from router.harness.waiting import wait_until

RUN_SECONDS = 300.0
POLL_SECONDS = 0.05
SETTLE_SECONDS = 1.0
"""Untimed pause after a run's last item reached the CRM, for the acknowledgements that follow it."""


class RouterRig:
    """See the module docstring; a context manager that leaves nothing running."""

    def __init__(self, workdir: Path, org: Organisation, settings: dict[str, Any], *,
                 graph: bool = False, simulator_options: tuple[str, ...] = ()) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.graph = graph
        """The profiles reach the simulator over Microsoft Graph instead of EWS."""
        self.org = org
        self.sim = SimulatorProcess(workdir, org.simulator_seed(), options=simulator_options)
        self.home = RouterHome(workdir / "home")
        self.router = RouterProcess(self.home)
        self._settings = settings
        self.records: dict[str, RecordRef] = {}

    def __enter__(self) -> RouterRig:
        try:
            self.sim.start()
            self.records = self.home.prepare(self.org, self.sim.url, self.sim.ca_file, self._settings,
                                             graph_base=self.sim.base_url if self.graph else None,
                                             graph_only=self.graph)
        except BaseException:
            self.sim.stop()
            raise
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.router.kill()
        self.sim.stop()

    def profiles(self) -> dict[str, Any]:
        """The profiles document the rig published (to change and publish again)."""
        return self.org.profiles(self.sim.url, self.sim.ca_file, self._settings,
                                 graph_base=self.sim.base_url if self.graph else None, graph_only=self.graph)

    @property
    def crm_db(self) -> Path:
        return self.home.home.crm_db

    def timed_run(self, finished: Callable[[], bool], items: int, what: str) -> Sample:
        """Start the router, time it from ready until ``finished()``, stop it; ``items`` done in between."""
        self.router.start()
        try:
            wall0, router0, sim0 = time.perf_counter(), self.router.usage().cpu_seconds, self.sim_cpu()
            wait_until(finished, timeout=RUN_SECONDS, what=what, interval=POLL_SECONDS,
                       log=self.router.log_tail)
            sample = Sample(items, time.perf_counter() - wall0, self.router.usage().cpu_seconds - router0,
                            self.sim_cpu() - sim0)
            time.sleep(SETTLE_SECONDS)
            return sample
        finally:
            self.router.kill()

    def sim_cpu(self) -> float:
        return self.sim.usage().cpu_seconds

    def incoming_count(self) -> int:
        """Incoming e-mails in the CRM."""
        with EmbeddedCrm(self.crm_db) as crm, crm.reading() as conn:
            found = conn.execute(select(func.count()).where(email.c.directioncode.is_(False))).scalar()
        return int(found or 0)

    def sent_count(self) -> int:
        """Outgoing e-mails in status Sent."""
        with EmbeddedCrm(self.crm_db) as crm, crm.reading() as conn:
            found = conn.execute(select(func.count()).where(
                email.c.directioncode.is_(True), email.c.statuscode == int(EmailStatus.SENT))).scalar()
        return int(found or 0)

"""The soak from start to verdict: set up, feed traffic under faults and kills, drain, audit."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from router.clock import SystemClock
from router.crm.codes import EmailStatus
from router.crm.embedded import EmbeddedCrm
from router.crm.embedded.schema import email
from router.errors import StateStoreError
from router.harness.org import Organisation, numbered
from router.harness.routerhome import RouterHome
from router.harness.routerprocess import RouterProcess
from router.harness.simprocess import SimulatorProcess
from router.runtime.state_location import open_configured_store
from router.service.lease_keeper import STATE_STORE_ALERT
from router.soak.audit import Verdict, audit
from router.soak.chaos import Killer, start_faults, stop_faults
from router.soak.fleet import Fleet, FleetChaos
from router.soak.outage import CuttableRelay, Outage, relay_target, relayed_url
from router.soak.settings import SoakSettings
from router.soak.traffic import Traffic
from router.state import StateStore

Say = Callable[[str], None]
ROUTER_SETTINGS = {"scheduling_period_seconds": 1, "send_rate_per_minute": 10000,
                   "pending_status_delay_seconds": 2, "sending_status_delay_seconds": 20}
"""The soak compresses the router's waits so that recovery happens within the run: sends do not wait
on Exchange Online's 30 per mailbox-minute; an e-mail put back to Pending Send after a failed attempt
is retried after 2 s instead of PendingStatusDelay's 300 s; and an e-mail left in Sending by a killed
router is recovered after 20 s instead of SendingStatusDelay's 1800 s. These only change *when*
recovery happens, not what is recovered or how."""
PROGRESS_SECONDS = 5.0
DRAIN_POLL_SECONDS = 0.5
FEED_SLICE = 50
"""Most messages (and e-mails) fed per turn of the feed loop: when injecting falls behind the schedule
(a loaded machine), the abuse and the progress reports still get their turns between slices."""


@dataclass(frozen=True)
class Progress:
    """How far the router has got: inbound delivered or quarantined, outbound Sent; and where the
    inbound still waits (mailboxes with an undelivered message, the oldest undelivered by feed order),
    which tells a slow router (every mailbox moving, the oldest advancing) from a stalled lane (one
    mailbox's oldest message standing still)."""

    delivered: int
    quarantined: int
    sent: int
    waiting: dict[str, int] = field(default_factory=dict)
    """Undelivered injected messages per mailbox (mailboxes with none are left out)."""
    oldest: int | None = None
    """The feed position of the oldest injected message not delivered yet (None: all delivered)."""


def progress(traffic: Traffic, router_home: RouterHome) -> Progress:
    """Read the CRM and the quarantine (safe while the router runs: SQLite WAL readers never block)."""
    injected = traffic.inbound[:traffic.injected]
    outgoing = list(traffic.email_ids.values())
    with EmbeddedCrm(router_home.home.crm_db) as crm, crm.reading() as conn:
        found = set(conn.execute(select(email.c.messageid).distinct()
                                 .where(email.c.messageid.in_([m.message_id for m in injected]))).scalars())
        sent = conn.execute(select(func.count()).where(email.c.activityid.in_(outgoing),
                                                       email.c.statuscode == int(EmailStatus.SENT))).scalar()
    store = open_configured_store(router_home.home, SystemClock())
    try:
        quarantined = store.quarantine.count()
    finally:
        store.close()
    undelivered = [(n, m) for n, m in enumerate(injected) if m.message_id not in found]
    waiting = Counter(m.mailbox for _, m in undelivered)
    return Progress(len(found), quarantined, int(sent or 0), dict(waiting),
                    undelivered[0][0] if undelivered else None)


class Soak:
    """One soak run in ``workdir``; see the package docstring."""

    def __init__(self, settings: SoakSettings, workdir: Path, say: Say,
                 database_url: str | None = None) -> None:
        self.settings = settings
        self.say = say
        self.people = numbered(settings.mailboxes)
        self.org = Organisation(self.people)
        self.sim = SimulatorProcess(workdir, self.org.simulator_seed())
        self.home = RouterHome(workdir / "home")
        self.router = RouterProcess(self.home)
        self.database_url = database_url
        self._last_report: tuple[float, int] | None = None
        self.spread: list[int] = []
        self.fleet = Fleet(self.home, settings.instances, database_url) if database_url is not None else None
        self.relay: CuttableRelay | None = None
        self.outage: Outage | None = None
        self.router_url = database_url
        if database_url is not None and settings.db_outage_seconds > 0:
            url = make_url(database_url)
            self.relay = CuttableRelay(relay_target(url))
            self.router_url = relayed_url(url, self.relay)

    def run(self) -> Verdict:
        started = time.monotonic()
        try:
            self.sim.start()
            records = self.home.prepare(self.org, self.sim.url, self.sim.ca_file, self._router_settings(),
                                        read_seconds=self.settings.read_timeout_seconds, **self._graph())
            traffic = Traffic.plan(self.people, records, self.settings.inbound, self.settings.outbound,
                                   self.settings.seed)
            self._start()
            killer = self._abuse(traffic)
            hits, served = stop_faults(self.sim, self.settings.transport)
            self.say(f"faults stopped ({sum(hits.values())} of {served} requests hit); the router drains")
            self._drain(traffic)
            self._stop()
            verdict = audit(traffic, self.home.home, self.sim.journal(), self._abuse_times(killer))
            verdict.fault_hits, verdict.requests_under_faults = hits, served
            _count(verdict, killer)
            verdict.lane_spread_at_start = self.spread
            self._count_outage(verdict)
            verdict.seconds = time.monotonic() - started
            return verdict
        finally:
            self._stop()
            self.sim.stop()
            if self.relay is not None:
                self.relay.close()

    def _abuse_times(self, killer: Killer | FleetChaos) -> list[datetime]:
        """When the router was killed, paused, or cut off its state database (sorted)."""
        cut = [] if self.outage is None or self.outage.cut_time is None else [self.outage.cut_time]
        return sorted([*killer.kill_times, *cut])

    def _count_outage(self, verdict: Verdict) -> None:
        if self.outage is None or self.database_url is None:
            return
        verdict.db_outage_seconds = self.outage.seconds
        verdict.lanes_paused_after_seconds = _rounded(self.outage.paused_after)
        verdict.work_resumed_after_seconds = _rounded(self.outage.resumed_after)
        store = StateStore.open(self.database_url, SystemClock())
        try:
            verdict.state_store_alerts = sum(alert.occurrences for alert in store.alerts.open_alerts()
                                             if alert.kind == STATE_STORE_ALERT)
        finally:
            store.close()

    def _graph(self) -> dict[str, Any]:
        """With ``transport = "graph"``: every mailbox on the Graph profiles (see Organisation.profiles)."""
        if self.settings.transport != "graph":
            return {}
        return {"graph_base": self.sim.base_url, "graph_only": True}

    def _router_settings(self) -> dict[str, object]:
        if self.database_url is None:
            return dict(ROUTER_SETTINGS)
        return {**ROUTER_SETTINGS, "state_store": self.router_url,
                "lease_seconds": self.settings.lease_seconds}

    def _start(self) -> None:
        if self.fleet is None:
            self.router.start()
            return
        self.spread = self.fleet.start(self.settings.lease_seconds)
        self.say(f"{len(self.fleet.routers)} instances on one PostgreSQL database hold {self.spread} lanes")

    def _stop(self) -> None:
        if self.fleet is None:
            self.router.stop()
        else:
            self.fleet.stop()

    def _abuse(self, traffic: Traffic) -> Killer | FleetChaos:
        """Feed all traffic over ``feed_seconds`` under faults, killing the router at random moments."""
        s = self.settings
        start_faults(self.sim, s)
        what = "SIGKILL" if self.fleet is None else "SIGKILL, SIGSTOP/SIGCONT or graceful stop of an instance"
        self.say(f"feeding {s.inbound} inbound + {s.outbound} outbound over {s.feed_seconds:g} s; faults at "
                 f"{s.fault_rate:.0%} of requests; {what} every {s.kill_min_seconds:g}-"
                 f"{s.kill_max_seconds:g} s")
        killer: Killer | FleetChaos
        if self.fleet is None:
            killer = Killer(self.router, s, self.say)
        else:
            killer = FleetChaos(self.fleet, s, self.say)
        tick = killer.tick
        if self.relay is not None and self.fleet is not None:
            outage = self.outage = Outage(self.relay, self.fleet.holders, sum(self.spread),
                                          s.feed_seconds / 2, s.db_outage_seconds, self.say)
            tick = partial(_one_turn, outage, killer.tick)
        sends = 1.0 if s.sends_during_kills else 0.0
        beside = self.fleet is not None and self.outage is None
        with _beside(tick) if beside else nullcontext(tick) as turn:
            self._feed(traffic, lambda: not (traffic.inbound_done and _actions(killer) >= s.min_kills and
                                             (traffic.outbound_done or not s.sends_during_kills) and
                                             (self.outage is None or self.outage.done)),
                       inbound=1.0, outbound=sends, tick=turn)
        if not s.sends_during_kills:
            self.say(f"kills over; feeding {s.outbound} outbound over {s.feed_seconds:g} s, faults still on")
            self._feed(traffic, lambda: not traffic.outbound_done, inbound=1.0, outbound=1.0)
        return killer

    def _feed(self, traffic: Traffic, going: Callable[[], bool], *, inbound: float, outbound: float,
              tick: Callable[[], None] = lambda: None) -> None:
        """Feed the given shares of the traffic, spread over ``feed_seconds``, while ``going()``."""
        started = last = time.monotonic()
        while going():
            share = (time.monotonic() - started) / self.settings.feed_seconds
            traffic.feed(share * inbound, share * outbound, self.sim, self.home.home.crm_db, most=FEED_SLICE)
            tick()
            if time.monotonic() - last >= PROGRESS_SECONDS:
                last = time.monotonic()
                self._report(traffic)
            time.sleep(0.2)

    def _drain(self, traffic: Traffic) -> None:
        """Wait until every message is delivered or quarantined and every e-mail Sent, or the deadline;
        every ``PROGRESS_SECONDS`` say how far it got, how fast, and where messages still wait."""
        deadline = time.monotonic() + self.settings.drain_seconds
        last = 0.0
        while time.monotonic() < deadline:
            now = progress(traffic, self.home)
            if now.delivered + now.quarantined >= traffic.injected and now.sent >= traffic.composed:
                self._say_progress(traffic, now)
                return
            if time.monotonic() - last >= PROGRESS_SECONDS:
                last = time.monotonic()
                self._say_progress(traffic, now)
                self.say(f"  still waiting: {_waiting(now)}")
            time.sleep(DRAIN_POLL_SECONDS)
        self.say(f"[red]the router did not finish within {self.settings.drain_seconds:g} s of draining[/]")

    def _report(self, traffic: Traffic) -> None:
        try:
            self._say_progress(traffic, progress(traffic, self.home))
        except StateStoreError:
            self.say("(progress unknown: the state database cannot be reached)")

    def _say_progress(self, traffic: Traffic, now: Progress) -> None:
        rate = self._rate(now)
        self.say(f"inbound {now.delivered}/{traffic.injected} delivered{rate}, {now.quarantined} "
                 f"quarantined; outbound {now.sent}/{traffic.composed} sent")

    def _rate(self, now: Progress) -> str:
        """Inbound deliveries per second since the previous report (a stall shows as 0.0/s)."""
        at, before = time.monotonic(), self._last_report
        self._last_report = (at, now.delivered)
        if before is None or at - before[0] <= 0:
            return ""
        return f" ({(now.delivered - before[1]) / (at - before[0]):.1f}/s since the last report)"


def _waiting(now: Progress) -> str:
    """Where undelivered inbound waits: the oldest by feed position, and per mailbox (most first)."""
    if now.oldest is None:
        return "no inbound message"
    mailboxes = sorted(now.waiting.items(), key=lambda item: -item[1])
    return f"oldest undelivered #{now.oldest}; " + ", ".join(f"{m.split('@')[0]} {n}" for m, n in mailboxes)


@contextmanager
def _beside(tick: Callable[[], None]) -> Iterator[Callable[[], None]]:
    """Run ``tick`` in a thread of its own while the feed goes on; yield the feed loop's turn, which
    raises what the abuse raised.

    An instance's abuse waits for its lanes to move and for its restart (tens of seconds on a loaded
    machine): in the feed's loop it would stop the feed that long every time (the feed fell to ~2
    messages/s under 30 actions). Beside it, the traffic keeps arriving while instances die."""
    stop = threading.Event()
    failed: list[BaseException] = []

    def loop() -> None:
        while not stop.is_set():
            try:
                tick()
            except BaseException as exc:  # Handed to the feed's thread, which raises it.
                failed.append(exc)
                return
            stop.wait(0.2)

    def turn() -> None:
        if failed:
            raise failed[0]

    thread = threading.Thread(target=loop, name="soak-abuse", daemon=True)
    thread.start()
    try:
        yield turn
    finally:
        stop.set()
        thread.join()
    turn()


def _one_turn(outage: Outage, chaos: Callable[[], None]) -> None:
    """The outage's turn while it is due or under way (no kill then: no lane could move), else chaos."""
    if outage.wants_turn:
        outage.tick()
    else:
        chaos()


def _rounded(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds, 1)


def _actions(killer: Killer | FleetChaos) -> int:
    return killer.kills if isinstance(killer, Killer) else killer.actions


def _count(verdict: Verdict, killer: Killer | FleetChaos) -> None:
    verdict.kills = killer.kills
    if isinstance(killer, FleetChaos):
        verdict.instances = len(killer.fleet.routers)
        verdict.pauses, verdict.graceful_stops = killer.pauses, killer.stops
        verdict.recovery_seconds_max = killer.recovery_seconds_max
        verdict.handover_seconds_max = round(max(killer.handovers), 1) if killer.handovers else None
        verdict.lanes_unrecovered = killer.unrecovered


def run_soak(settings: SoakSettings, workdir: Path, say: Say, database_url: str | None = None) -> Verdict:
    """Run the soak in ``workdir``; every process it started is stopped when it returns.

    With ``database_url`` the state lives in that PostgreSQL database and ``settings.instances`` router
    instances share it (see ``fleet``).
    """
    return Soak(settings, workdir, say, database_url).run()

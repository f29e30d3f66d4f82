"""The router's own scenarios: incoming and outgoing throughput, latency, and idle scale.

* incoming: M mailboxes x N realistic messages, from the router being ready until every one is an
  activity in the CRM (the real service: `email-router run`, its lanes and pipelines);
* outgoing: K Pending Send e-mails in the CRM until all are Sent;
* latency: seconds from a message's injection into a mailbox to its CRM activity's ``createdon``
  (both clocks are this machine's), with streaming notifications and with polling only;
* scale: the router serving 2,000 and 10,000 idle mailboxes after their first pass: start-up time, first
  pass, CPU, resident memory and CRM requests per minute (embedded CRM, and the Dynamics Web API facade).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from contextlib import nullcontext
from email.utils import make_msgid
from pathlib import Path
from typing import Any

from sqlalchemy import select

from router.bench import scrape
from router.bench.facade import dynamics_facade
from router.bench.measure import percentile
from router.bench.results import Latency, Scale, Throughput
from router.bench.rig import RouterRig
from router.crm.embedded import Draft, EmbeddedCrm
from router.crm.embedded.schema import email
from router.errors import HarnessError
from router.harness.messages import SIZES, Envelope, build_message
from router.harness.org import Organisation, numbered
from router.pipeline.incoming.notifications import PER_CONNECTION

Progress = Callable[[str], None]
BASE_SETTINGS: dict[str, Any] = {"scheduling_period_seconds": 1, "send_rate_per_minute": 10000}
"""Router settings of every scenario: Exchange Online's 30 sends per mailbox-minute (the default) is
lifted so the outgoing figures measure the router, not the limit."""
IDLE_SAMPLE_SECONDS = 2.0
STEADY_TOLERANCE = 0.15
LATENCY_POLL_SECONDS = 0.02
LATENCY_DEADLINE = 120.0
FIRST_PASS_SECONDS = 900.0
"""Longest wait for every lane of a scale scenario to have run once."""
READY_SECONDS = 600.0
"""Longest wait for a scale scenario's router to be ready (its start-up time is a figure, not a limit)."""
DEFAULT_STREAMS = 10
"""Exchange's default limit on one account's streaming connections (and the router's default)."""
EMBEDDED = "embedded"
DYNAMICS_FACADE = "dynamics-facade"
"""The CRMs of the scale rows: in the router's process, or the Dynamics Web API facade over HTTP."""
QUOTE = "<p>" + "Thank you for your order; the quote is below. " * 60 + "</p>"


def _at_least(count: Callable[[], int], goal: int) -> Callable[[], bool]:
    return lambda: count() >= goal


def inject_batch(rig: RouterRig, per_mailbox: int, size: str, tag: str) -> int:
    """Inject ``per_mailbox`` messages of ``size`` into every mailbox; return how many."""
    count = 0
    for person in rig.org.people:
        for i in range(per_mailbox):
            env = Envelope(f"customer{i % 50}@fabrikam.com", person.address, f"Question {tag}-{i}",
                           f"<{tag}-{i}-{person.address}>")
            rig.sim.inject(person.address, build_message(env, SIZES[size], seed=count))
            count += 1
    return count


def incoming(workdir: Path, mailboxes: int, per_mailbox: int, size: str, repeats: int,
             progress: Progress, *, graph: bool = False) -> Throughput:
    """Incoming throughput through the router (each run's messages injected while it was stopped);
    ``graph``: the mailboxes are reached over Microsoft Graph."""
    over = " over Graph" if graph else ""
    result = Throughput(f"router-incoming-{size}{'-graph' if graph else ''}", "incoming",
                        f"router incoming{over} (perf)",
                        f"email-router run{over}: {mailboxes} mailboxes x {per_mailbox} messages, until all "
                        "are CRM activities", size)
    with RouterRig(workdir, Organisation(numbered(mailboxes)), BASE_SETTINGS, graph=graph) as rig:
        total = 0
        for rep in range(repeats):
            batch = inject_batch(rig, per_mailbox, size, f"in{size}r{rep}")
            total += batch
            progress(f"router incoming {size}, run {rep + 1}/{repeats}: {batch} messages")
            result.samples.append(rig.timed_run(_at_least(rig.incoming_count, total), batch,
                                                f"the router delivered {total} messages into the CRM"))
    return result


def compose(rig: RouterRig, count: int, tag: str) -> None:
    """Put ``count`` e-mails from the mailboxes (in turn) to external recipients in Pending Send."""
    people = rig.org.people
    with EmbeddedCrm(rig.crm_db) as crm:
        for i in range(count):
            draft = Draft(sender=rig.records[people[i % len(people)].address], subject=f"Quote {tag}-{i}",
                          to=(f"customer{i % 50}@fabrikam.com",), body=QUOTE)
            crm.send_email(None, crm.create_draft(draft))


def outgoing(workdir: Path, mailboxes: int, count: int, repeats: int, progress: Progress, *,
             graph: bool = False) -> Throughput:
    """Outgoing throughput through the router: ``count`` Pending Send e-mails per run until all are Sent;
    ``graph``: sent over Microsoft Graph from the service mailbox."""
    over = " over Graph" if graph else ""
    result = Throughput(f"router-outgoing{'-graph' if graph else ''}", "outgoing",
                        f"router outgoing{over} (perf)",
                        f"email-router run{over}: {count} Pending Send e-mails from {mailboxes} mailboxes "
                        "until Sent (half Send As, half Send On Behalf)", "3KB HTML")
    with RouterRig(workdir, Organisation(numbered(mailboxes)), BASE_SETTINGS, graph=graph) as rig:
        total = 0
        for rep in range(repeats):
            compose(rig, count, f"r{rep}")
            total += count
            progress(f"router outgoing, run {rep + 1}/{repeats}: {count} e-mails")
            result.samples.append(rig.timed_run(_at_least(rig.sent_count, total), count,
                                                f"the router sent {total} CRM e-mails"))
    return result


def latency(workdir: Path, mode: str, settings: dict[str, Any], mailboxes: int, messages: int,
            interval: float, progress: Progress, *, at_scale: bool = False) -> Latency:
    """Arrival -> CRM activity for ``messages`` messages injected one at a time, ``interval`` apart.

    The CRM keeps times to the second, so arrival in the CRM is observed instead: this process polls
    the CRM every ``LATENCY_POLL_SECONDS`` between injections (its CPU is not the router's).
    """
    rng = random.Random(7)
    with RouterRig(workdir, Organisation(numbered(mailboxes)), {**BASE_SETTINGS, **settings}) as rig:
        rig.router.start()
        try:
            if at_scale:
                progress(f"latency across {mailboxes:,} mailboxes: waiting for every lane's first run")
                scrape.wait_first_pass(rig.router, 2 * mailboxes, FIRST_PASS_SECONDS)
            progress(f"latency with {mode}: {messages} messages, one every {interval:g} s")
            clock = _ArrivalClock(rig)
            for i in range(messages):
                person = rng.choice(rig.org.people)
                message_id = make_msgid(domain="fabrikam.com")
                env = Envelope(f"customer{i}@fabrikam.com", person.address, f"Latency {i}", message_id)
                raw = build_message(env, SIZES["8KB"], seed=i)
                clock.injected[message_id] = time.perf_counter()
                rig.sim.inject(person.address, raw)
                clock.watch(time.perf_counter() + interval)
            clock.watch(time.perf_counter() + LATENCY_DEADLINE, until_all=True)
        finally:
            rig.router.kill()
    missing = set(clock.injected) - set(clock.arrived)
    if missing and not at_scale:
        raise HarnessError(f"{len(missing)} of {messages} latency messages did not reach the CRM within "
                           f"{LATENCY_DEADLINE:g} s", path=str(rig.router.log_path),
                           hint="read the router's log")
    seconds = [clock.arrived[m] - clock.injected[m] for m in clock.injected if m in clock.arrived]
    # A message still missing at the deadline counts as arriving at it, so p99 is not flattered.
    seconds += [LATENCY_DEADLINE] * len(missing)
    name = f"latency-{mode.split()[0]}" + (f"-{mailboxes}" if at_scale else "")
    title = f"arrival -> CRM activity, {mode}" + (f", {mailboxes:,} mailboxes, {1 / interval:g} msg/s"
                                                   if at_scale else "")
    return Latency(name, title, mode, seconds, percentile(seconds, 0.5), percentile(seconds, 0.99),
                   missing=len(missing))


class _ArrivalClock:
    """When each injected message first appeared in the CRM, by polling it."""

    def __init__(self, rig: RouterRig) -> None:
        self.rig = rig
        self.injected: dict[str, float] = {}
        self.arrived: dict[str, float] = {}

    def watch(self, until: float, *, until_all: bool = False) -> None:
        """Poll until ``until`` (or, with ``until_all``, until every injected message has arrived)."""
        while time.perf_counter() < until:
            waiting = [m for m in self.injected if m not in self.arrived]
            if until_all and not waiting:
                return
            if waiting:
                with EmbeddedCrm(self.rig.crm_db) as crm, crm.reading() as conn:
                    found = conn.execute(select(email.c.messageid).where(email.c.messageid.in_(waiting)))
                    now = time.perf_counter()
                    self.arrived.update((str(m), now) for (m,) in found)
            time.sleep(LATENCY_POLL_SECONDS)


def scale(workdir: Path, mailboxes: int, warm_up: float, window: float, progress: Progress, *,
          graph: bool = False, crm: str = EMBEDDED) -> Scale:
    """The router serving ``mailboxes`` idle mailboxes: start-up, then CPU, memory and CRM requests.

    The window starts once every lane has run once (the first pass is its own figure, not idle) and
    the CPU rate has settled; the default window (330 s) is longer than the longest sweep wait (300 s
    and its jitter), so every lane's sweep falls in it. ``graph``: the mailboxes are reached over
    Microsoft Graph, which has no notifications on-premises: the delta poller asks about twenty idle
    mailboxes per ``$batch`` every ``graph_poll_seconds`` and each lane sweeps as over EWS. ``crm``:
    the embedded CRM in the router's process, or ``DYNAMICS_FACADE``, the same CRM behind the Dynamics
    Web API over HTTP (every CRM request a real HTTP request). A first pass that did not finish says so
    in the row's note.
    """
    over = " over Graph" if graph else ""
    streams = 0 if graph else streaming_connections(mailboxes)
    options: tuple[str, ...]
    settings, options = BASE_SETTINGS, ()
    if streams > DEFAULT_STREAMS:
        settings = {**BASE_SETTINGS, "incoming": {"notification_streams": streams}}
        options = ("--max-streaming-connections", str(streams))
    progress(f"scale: preparing {mailboxes:,} mailboxes{over} (simulator, CRM, profiles, publish; {crm} CRM; "
             f"{streams} streaming connections)")
    with RouterRig(workdir, Organisation(numbered(mailboxes, prefix="idle")), settings,
                   graph=graph, simulator_options=options) as rig, \
            (dynamics_facade(rig) if crm == DYNAMICS_FACADE else nullcontext()):
        started = time.perf_counter()
        rig.router.start(wait_ready=False)
        rig.router.wait_ready(READY_SECONDS)
        startup = time.perf_counter() - started
        progress(f"scale: ready after {startup:.1f} s; waiting for every lane's first run")
        first_pass = scrape.wait_first_pass(rig.router, 2 * mailboxes, FIRST_PASS_SECONDS)
        ran = scrape.lanes_run(rig.router)
        note = "" if ran >= 2 * mailboxes else (
            f"first pass unfinished after {first_pass:.0f} s ({ran:,} of {2 * mailboxes:,} lanes): the "
            "window measures first-pass work, not idle")
        progress(f"scale: first pass took {first_pass:.0f} s; settling for up to {warm_up:g} s")
        _settle(rig, warm_up)
        before, sim0, wall0 = rig.router.usage(), rig.sim_cpu(), time.perf_counter()
        requests0 = scrape.crm_requests(rig.router)
        peak = before.rss_bytes
        while time.perf_counter() - wall0 < window:
            time.sleep(IDLE_SAMPLE_SECONDS)
            peak = max(peak, rig.router.usage().rss_bytes)
        cpu, sim = rig.router.usage().cpu_seconds - before.cpu_seconds, rig.sim_cpu() - sim0
        elapsed = time.perf_counter() - wall0
        requests = scrape.crm_requests(rig.router) - requests0
    suffix = ("-graph" if graph else "") + ("" if crm == EMBEDDED else f"-{crm}")
    return Scale(f"scale-{mailboxes}{suffix}", mailboxes, startup, 100 * cpu / elapsed, peak / (1024 * 1024),
                 elapsed, 100 * sim / elapsed, note=note, first_pass_s=first_pass,
                 crm_requests_per_minute=60 * requests / elapsed, crm=crm,
                 transport="graph" if graph else "ews", streaming_connections=streams)


def streaming_connections(mailboxes: int) -> int:
    """The streaming connections that watch every one of ``mailboxes`` (``PER_CONNECTION`` each).

    Exchange's throttling policy lets one account hold 10 by default (2,000 mailboxes); beyond, the
    scale rows raise the limit on both sides (the simulator's ``--max-streaming-connections`` and the
    router's ``notification_streams``), as an admin serving that many mailboxes with one service account
    raises it in the policy, so that every mailbox is watched and its sweep is its only idle work.
    """
    return max(DEFAULT_STREAMS, -(-mailboxes // PER_CONNECTION))


def _settle(rig: RouterRig, warm_up: float) -> None:
    """Wait for a steady state after the first pass over the mailboxes, at most ``warm_up`` seconds.

    Steady means two consecutive samples of the router's CPU rate within ``STEADY_TOLERANCE`` of each
    other (polling many idle mailboxes costs CPU all the time, so "idle" cannot mean "no CPU").
    """
    deadline = time.perf_counter() + warm_up
    last_cpu, last_rate = rig.router.usage().cpu_seconds, -1.0
    while time.perf_counter() < deadline:
        time.sleep(IDLE_SAMPLE_SECONDS)
        cpu = rig.router.usage().cpu_seconds
        rate = (cpu - last_cpu) / IDLE_SAMPLE_SECONDS
        if last_rate >= 0 and abs(rate - last_rate) <= STEADY_TOLERANCE * max(last_rate, 0.05):
            return
        last_cpu, last_rate = cpu, rate

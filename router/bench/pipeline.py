"""The router's own scenarios: incoming and outgoing throughput, latency, and idle scale.

* incoming: M mailboxes x N realistic messages, from the router being ready until every one is an
  activity in the CRM (the real service: `email-router run`, its lanes and pipelines);
* outgoing: K Pending Send e-mails in the CRM until all are Sent;
* latency: seconds from a message's injection into a mailbox to its CRM activity's ``createdon``
  (both clocks are this machine's), with streaming notifications and with polling only;
* scale: the router serving 1,000 and 5,000 idle mailboxes: start-up time, CPU and resident memory.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import make_msgid
from pathlib import Path
from typing import Any

from sqlalchemy import select

from router.bench.measure import percentile
from router.bench.results import Latency, Scale, Throughput
from router.bench.rig import RouterRig
from router.crm.embedded import Draft, EmbeddedCrm
from router.crm.embedded.schema import email
from router.harness.messages import SIZES, Envelope, build_message
from router.harness.org import Organisation, numbered
from router.harness.waiting import wait_until

Progress = Callable[[str], None]
BASE_SETTINGS: dict[str, Any] = {"scheduling_period_seconds": 1}
IDLE_SAMPLE_SECONDS = 2.0
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
             progress: Progress) -> Throughput:
    """Incoming throughput through the router (each run's messages injected while it was stopped)."""
    result = Throughput(f"router-incoming-{size}", "incoming", "router incoming (perf)",
                        f"email-router run: {mailboxes} mailboxes x {per_mailbox} messages, until all are "
                        "CRM activities", size)
    with RouterRig(workdir, Organisation(numbered(mailboxes)), BASE_SETTINGS) as rig:
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


def outgoing(workdir: Path, mailboxes: int, count: int, repeats: int, progress: Progress) -> Throughput:
    """Outgoing throughput through the router: ``count`` Pending Send e-mails per run until all are Sent."""
    result = Throughput("router-outgoing", "outgoing", "router outgoing (perf)",
                        f"email-router run: {count} Pending Send e-mails from {mailboxes} mailboxes until "
                        "Sent (half Send As, half Send On Behalf)", "3KB HTML")
    with RouterRig(workdir, Organisation(numbered(mailboxes)), BASE_SETTINGS) as rig:
        total = 0
        for rep in range(repeats):
            compose(rig, count, f"r{rep}")
            total += count
            progress(f"router outgoing, run {rep + 1}/{repeats}: {count} e-mails")
            result.samples.append(rig.timed_run(_at_least(rig.sent_count, total), count,
                                                f"the router sent {total} CRM e-mails"))
    return result


def latency(workdir: Path, mode: str, settings: dict[str, Any], mailboxes: int, messages: int,
            interval: float, progress: Progress) -> Latency:
    """Arrival -> CRM activity for ``messages`` messages injected one at a time, ``interval`` apart."""
    rng = random.Random(7)
    with RouterRig(workdir, Organisation(numbered(mailboxes)), {**BASE_SETTINGS, **settings}) as rig:
        rig.router.start()
        try:
            progress(f"latency with {mode}: {messages} messages, one every {interval:g} s")
            injected: dict[str, float] = {}
            for i in range(messages):
                person = rng.choice(rig.org.people)
                message_id = make_msgid(domain="fabrikam.com")
                env = Envelope("carol@fabrikam.com", person.address, f"Latency {i}", message_id)
                raw = build_message(env, SIZES["8KB"], seed=i)
                injected[message_id] = time.time()
                rig.sim.inject(person.address, raw)
                time.sleep(interval)
            wait_until(_at_least(rig.incoming_count, messages), timeout=120, log=rig.router.log_tail,
                       what=f"the router delivered the {messages} latency messages")
        finally:
            rig.router.stop()
        seconds = _arrivals(rig, injected)
    return Latency(f"latency-{mode}", f"arrival -> CRM activity, {mode}", mode, seconds,
                   percentile(seconds, 0.5), percentile(seconds, 0.99))


def _arrivals(rig: RouterRig, injected: dict[str, float]) -> list[float]:
    """Seconds from injection to the CRM activity's creation, per message."""
    with EmbeddedCrm(rig.crm_db) as crm, crm.reading() as conn:
        rows = conn.execute(select(email.c.messageid, email.c.createdon)
                            .where(email.c.messageid.in_(list(injected)))).all()
    return [_epoch(created) - injected[message_id] for message_id, created in rows]


def _epoch(moment: datetime) -> float:
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def scale(workdir: Path, mailboxes: int, warm_up: float, window: float, progress: Progress) -> Scale:
    """The router serving ``mailboxes`` idle mailboxes: start-up, then CPU and memory over ``window``."""
    progress(f"scale: preparing {mailboxes:,} mailboxes (simulator, CRM, profiles, publish)")
    with RouterRig(workdir, Organisation(numbered(mailboxes, prefix="idle")), BASE_SETTINGS) as rig:
        started = time.perf_counter()
        rig.router.start()
        startup = time.perf_counter() - started
        progress(f"scale: ready after {startup:.1f} s; settling for up to {warm_up:g} s")
        _settle(rig, warm_up)
        before, wall0 = rig.router.usage(), time.perf_counter()
        peak = before.rss_bytes
        while time.perf_counter() - wall0 < window:
            time.sleep(IDLE_SAMPLE_SECONDS)
            peak = max(peak, rig.router.usage().rss_bytes)
        cpu = rig.router.usage().cpu_seconds - before.cpu_seconds
        elapsed = time.perf_counter() - wall0
    return Scale(f"scale-{mailboxes}", mailboxes, startup, 100 * cpu / elapsed, peak / (1024 * 1024), elapsed)


def _settle(rig: RouterRig, warm_up: float) -> None:
    """Wait until the router's first pass over the mailboxes is over (under half a core), or the limit."""
    deadline = time.perf_counter() + warm_up
    last = rig.router.usage().cpu_seconds
    while time.perf_counter() < deadline:
        time.sleep(IDLE_SAMPLE_SECONDS)
        now = rig.router.usage().cpu_seconds
        if (now - last) / IDLE_SAMPLE_SECONDS < 0.5:
            return
        last = now

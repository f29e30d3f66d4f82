"""Incoming throughput with one and with two router instances sharing a PostgreSQL state store.

Each count of instances gets a fresh simulator, home and database: M mailboxes x N messages are
injected while no instance runs, then the instances start (`email-router run --instance bench-N`) and
the clock runs from their start (not from ready: the lanes are divided while the work goes on) until
every message is a CRM activity. CPU is the sum over the instances. With both counts timed the same
way, the ratio shows what a second instance adds on this machine (on two shared cores, little: the
instances compete for the same CPUs as the simulator).
"""

from __future__ import annotations

import time
from pathlib import Path

from router.bench.measure import Sample
from router.bench.pipeline import BASE_SETTINGS, Progress, inject_batch
from router.bench.results import Throughput
from router.bench.rig import POLL_SECONDS, RUN_SECONDS, SETTLE_SECONDS, RouterRig
from router.harness.org import Organisation, numbered
from router.harness.postgres import Databases
from router.harness.waiting import wait_until
from router.soak.fleet import Fleet

LEASE_SECONDS = 10.0


def incoming_with_instances(workdir: Path, databases: Databases, count: int, mailboxes: int,
                            per_mailbox: int, repeats: int, progress: Progress) -> Throughput:
    """Incoming 8 KB throughput with ``count`` instances on one PostgreSQL database (see the module)."""
    result = Throughput(f"router-incoming-pg-{count}", "incoming",
                        f"router incoming, {count} instance(s), PostgreSQL",
                        f"{count} x email-router run on one PostgreSQL database: {mailboxes} mailboxes x "
                        f"{per_mailbox} messages, from start until all are CRM activities", "8KB")
    url = databases.create(f"bench_{count}")
    settings = {**BASE_SETTINGS, "state_store": url, "lease_seconds": LEASE_SECONDS}
    with RouterRig(workdir, Organisation(numbered(mailboxes)), settings) as rig:
        fleet = Fleet(rig.home, count, url)
        total = 0
        for rep in range(repeats):
            batch = inject_batch(rig, per_mailbox, "8KB", f"pg{count}r{rep}")
            total += batch
            progress(f"router incoming with {count} instance(s) on PostgreSQL, run {rep + 1}/{repeats}: "
                     f"{batch} messages")
            result.samples.append(_timed(rig, fleet, total, batch))
    return result


def _timed(rig: RouterRig, fleet: Fleet, total: int, batch: int) -> Sample:
    wall0, sim0 = time.perf_counter(), rig.sim_cpu()
    for router in fleet.routers:
        router.start(wait_ready=False)
    try:
        wait_until(lambda: rig.incoming_count() >= total, timeout=RUN_SECONDS,
                   what=f"{len(fleet.routers)} instances delivered {total} messages", interval=POLL_SECONDS,
                   log=fleet.routers[0].log_tail)
        cpu = sum(router.usage().cpu_seconds for router in fleet.routers)
        sample = Sample(batch, time.perf_counter() - wall0, cpu, rig.sim_cpu() - sim0)
        time.sleep(SETTLE_SECONDS)
        return sample
    finally:
        for router in fleet.routers:
            router.stop()  # Gracefully: the leases are handed back, so the next run starts at once.

"""Figures the running router exports on its status endpoint (``/metrics``), read by the bench.

The scale scenarios measure an idle router, so they wait until every lane has run once (start-up is
a separate figure) and count the requests the router asked of its CRM meanwhile
(``email_router_crm_requests_total``).
"""

from __future__ import annotations

import time

import requests
from prometheus_client.parser import text_string_to_metric_families

from router.harness.routerprocess import RouterProcess

POLL_SECONDS = 1.0
LANES_PER_POLL_SECOND = 4000
"""The first-pass wait asks ``/metrics`` every ``lanes / LANES_PER_POLL_SECOND`` s (``POLL_SECONDS`` at
least): the page holds several series per lane, and rendering it for 20,000 lanes every second would be
a good part of the router CPU the wait is meant to leave alone."""
SCRAPE_SECONDS = 60.0


def samples(router: RouterProcess, name: str) -> list[tuple[dict[str, str], float]]:
    """Every sample of the metric family ``name`` (labels, value) the router exports now."""
    answer = requests.get(f"{router.status_url}/metrics", timeout=SCRAPE_SECONDS)
    answer.raise_for_status()
    found: list[tuple[dict[str, str], float]] = []
    for family in text_string_to_metric_families(answer.text):
        found.extend((s.labels, s.value) for s in family.samples if s.name == name)
    return found


def crm_requests(router: RouterProcess) -> float:
    """Operations the router has asked of its CRMs since it started."""
    return sum(value for _, value in samples(router, "email_router_crm_requests_total"))


def lanes_run(router: RouterProcess) -> int:
    """Lanes that have finished at least one successful run."""
    return sum(1 for _, value in samples(router, "email_router_mailbox_last_success_timestamp_seconds")
               if value > 0)


def wait_first_pass(router: RouterProcess, lanes: int, timeout: float) -> float:
    """Wait until ``lanes`` lanes have run once (at most ``timeout`` s); the seconds it took."""
    started = time.perf_counter()
    pause = max(POLL_SECONDS, lanes / LANES_PER_POLL_SECOND)
    while time.perf_counter() - started < timeout and lanes_run(router) < lanes:
        time.sleep(pause)
    return time.perf_counter() - started

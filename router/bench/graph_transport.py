"""Graph scenarios without the router: what a user would write with the same HTTP library (requests).

* ``fetch``: the stock batched fetch over Graph, the counterpart of exchangelib's batched GetItem: the
  MIME of every message of one size, 20 ``/messages/{id}/$value`` steps per ``$batch`` (Graph's most),
  base64-decoded, nothing else (the ids are listed by delta before the timing, as the EWS ceiling lists
  its ids first).
* ``naive``: the hand-written script over Graph, the counterpart of the EWS one
  (``router.bench.transport``): list the Inbox (``mailFolders/inbox/messages``, 100 ids a page), then per
  message one ``GET /messages/{id}/$value``, parse it with ``email`` (``policy.default``: body and
  attachments) and one DeliverIncomingEmail into a fresh embedded CRM. Sequential, one request at a time.
* ``sends``: ``sendMail`` of a 3.4 KB HTML message (MIME built with ``email``, sent base64 as
  text/plain) from the service mailbox to an external recipient, one request per message.

Both use a plain ``requests.Session`` and one token from the token endpoint, as a user would; the
session ignores the environment (``trust_env`` off: the simulator is on loopback, and a
REQUESTS_CA_BUNDLE must not replace its CA), which also spares it requests' per-request environment scan.
The router's Graph rows are compared with these (``RATIOS`` in ``router.bench.run``).
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import requests

from router.bench.measure import timed
from router.bench.org import EXTERNAL, SERVICE, bench_seed, mailbox_address
from router.bench.results import Throughput
from router.bench.transport import HTML, WARM_UP_ITEMS, each_fresh_crm, fill_mailboxes, parsed_by_hand
from router.crm.embedded import EmbeddedGateway
from router.harness.simprocess import SimulatorProcess

APP, SECRET, TENANT = "bench-graph-app", "bench-graph-secret", "bench.onmicrosoft.com"
SCOPE = "https://graph.microsoft.com/.default"
MAX_STEPS = 20


class GraphTransportBench:
    """The stock Graph scenarios against one running simulator (seeded with ``graph_seed``)."""

    def __init__(self, sim: SimulatorProcess, repeats: int) -> None:
        self.sim = sim
        self.repeats = repeats
        self.graph = f"{sim.base_url}/v1.0"
        self.session = requests.Session()
        self.session.verify = str(sim.ca_file)
        self.session.trust_env = False  # loopback: no proxy, and REQUESTS_CA_BUNDLE must not win
        token = self.session.post(f"{sim.base_url}/{TENANT}/oauth2/v2.0/token", data={
            "grant_type": "client_credentials", "client_id": APP, "client_secret": SECRET, "scope": SCOPE})
        token.raise_for_status()
        self.session.headers["Authorization"] = f"Bearer {token.json()['access_token']}"

    def close(self) -> None:
        self.session.close()

    def _server_cpu(self) -> float:
        return self.sim.usage().cpu_seconds

    def ceiling(self, size: str) -> Throughput:
        """The MIME of every message of ``size``, 20 per ``$batch``, nothing else."""
        box = mailbox_address(size)
        ids = self._ids(box)
        result = Throughput(f"ceiling-{size}-graph", "transport", "fetch ceiling over Graph (stock)",
                            "requests: MIME of 20 messages per $batch, nothing else", size)
        self._fetch(box, ids[:WARM_UP_ITEMS])
        result.samples.extend(timed(lambda: self._fetch(box, ids), self._server_cpu)
                              for _ in range(self.repeats))
        return result

    def naive(self, size: str) -> Throughput:
        """List the Inbox, then per message GET ``$value``, parse, one CRM insert; into a fresh CRM a run."""
        box = mailbox_address(size)
        result = Throughput(f"naive-{size}-graph", "incoming", "hand-written script over Graph (requests)",
                            "hand-written script over Graph: GET $value per message + parse + CRM insert "
                            "(requests)", size)
        for rep, gateway in each_fresh_crm(self.repeats):
            self._naive_run(box, gateway, result, warm_up=rep == 0)
        return result

    def _naive_run(self, box: str, gateway: EmbeddedGateway, result: Throughput, *, warm_up: bool) -> None:
        if warm_up:
            self._naive_pass(box, gateway, WARM_UP_ITEMS)
        else:
            result.samples.append(timed(lambda: self._naive_pass(box, gateway), self._server_cpu))

    def _naive_pass(self, box: str, gateway: EmbeddedGateway, limit: int | None = None) -> int:
        done = 0
        link: str | None = f"{self.graph}/users/{box}/mailFolders/inbox/messages?$select=id&$top=100"
        while link and (limit is None or done < limit):
            page = self.session.get(link)
            page.raise_for_status()
            data: dict[str, Any] = page.json()
            for entry in data.get("value", [])[:None if limit is None else limit - done]:
                mime = self.session.get(f"{self.graph}/users/{box}/messages/{entry['id']}/$value")
                mime.raise_for_status()
                gateway.deliver_incoming(parsed_by_hand(mime.content, box))
                done += 1
            link = data.get("@odata.nextLink")
        return done

    def sends(self, count: int) -> Throughput:
        """``sendMail`` of a 3.4 KB HTML message to one external recipient, sequentially."""
        result = Throughput("sends-graph", "outgoing", "send ceiling over Graph (stock)",
                            "requests: sendMail with a MIME body, one request per message", "3KB HTML")
        self._send(WARM_UP_ITEMS)
        result.samples.extend(timed(lambda: self._send(count), self._server_cpu) for _ in range(self.repeats))
        return result

    def _ids(self, box: str) -> list[str]:
        ids: list[str] = []
        link: str | None = f"{self.graph}/users/{box}/mailFolders/inbox/messages/delta?$select=id"
        while link:
            page = self.session.get(link, headers={"Prefer": "odata.maxpagesize=100"})
            page.raise_for_status()
            data: dict[str, Any] = page.json()
            ids += [str(entry["id"]) for entry in data.get("value", [])]
            link = data.get("@odata.nextLink")
        return ids

    def _fetch(self, box: str, ids: list[str]) -> int:
        fetched = 0
        for start in range(0, len(ids), MAX_STEPS):
            steps = [{"id": str(n), "method": "GET", "url": f"/users/{box}/messages/{mid}/$value"}
                     for n, mid in enumerate(ids[start:start + MAX_STEPS])]
            answer = self.session.post(f"{self.graph}/$batch", json={"requests": steps})
            answer.raise_for_status()
            fetched += sum(1 for step in answer.json()["responses"]
                           if step["status"] == 200 and base64.b64decode(step["body"]))
        return fetched

    def _send(self, count: int) -> int:
        for n in range(count):
            msg = EmailMessage()
            msg["From"], msg["To"], msg["Subject"] = SERVICE, EXTERNAL, f"Quote {n}"
            msg.set_content("Thank you for your order.")
            msg.add_alternative(HTML, subtype="html")
            answer = self.session.post(f"{self.graph}/users/{SERVICE}/sendMail",
                                       data=base64.b64encode(msg.as_bytes()),
                                       headers={"Content-Type": "text/plain"})
            answer.raise_for_status()
        return count


def graph_seed(sizes: list[str]) -> dict[str, Any]:
    """The transport bench's organisation with an app allowed to read and send over Graph."""
    app = {"client_id": APP, "client_secret": SECRET, "tenant": TENANT,
           "graph_permissions": ["Mail.ReadWrite", "Mail.Send"]}
    return bench_seed(sizes) | {"apps": [app]}


def graph_transport_scenarios(workdir: Path, counts: dict[str, int], sends: int, repeats: int,
                              progress: Callable[[str], None]) -> list[Throughput]:
    """The stock Graph fetch of each size and the stock Graph sends, on a simulator of their own."""
    with SimulatorProcess(workdir / "graph-transport", graph_seed(list(counts))) as sim:
        for size, count in counts.items():
            progress(f"filling the {size} mailbox with {count} messages (Graph ceilings)")
            fill_mailboxes(sim, count, [size])
        bench = GraphTransportBench(sim, repeats)
        try:
            results: list[Throughput] = []
            for size in counts:
                progress(f"hand-written script over Graph (requests), {size}")
                results.append(bench.naive(size))
                progress(f"batched fetch over Graph (requests), {size}")
                results.append(bench.ceiling(size))
            progress(f"sends over Graph (requests, {sends})")
            results.append(bench.sends(sends))
            return results
        finally:
            bench.close()

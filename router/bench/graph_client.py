"""Thin requests client vs Microsoft's Graph SDK (msgraph-sdk), side by side against the simulator.

Run: ``.venv/bin/python -m router.bench.graph_client [--messages N] [--repeats R]`` (the SDK is not a
dependency: ``pip install msgraph-sdk`` first, or only the thin client's rows are printed). Both do the
same incoming work on a fresh mailbox of N messages (8 KB each): delta pages of 50, then for every
message GET ``$value`` and PATCH categories/isRead, one request at a time, on one MSAL token. A third
row is the thin client as the router uses it: MIME and acknowledgements through ``$batch`` (20 each).
Also measured: the import time of each client (a fresh interpreter) and the installed size of the
packages each one brings. The simulator runs in this process (both clients share that cost equally).
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.metadata as md
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from router.clock import SystemClock
from router.graph.client import GraphClient
from router.graph.clouds import endpoints
from router.graph.mailbox import GraphMailbox
from router.graph.tokens import AppCredentials, TokenSource
from router.simulator import Controller

APP, SECRET, TENANT = "bench-app", "bench-secret", "bench.onmicrosoft.com"
BODY = ("The quick brown fox jumps over the lazy dog. " * 190)[:8192]
CATEGORY = "Tracked to Dynamics 365"
SDK_PACKAGES = ("msgraph-sdk", "msgraph-core", "microsoft-kiota-abstractions", "microsoft-kiota-http",
                "microsoft-kiota-authentication-azure", "microsoft-kiota-serialization-json",
                "microsoft-kiota-serialization-text", "microsoft-kiota-serialization-form",
                "microsoft-kiota-serialization-multipart", "azure-identity", "azure-core", "httpx",
                "httpcore", "h2", "aiohttp", "opentelemetry-api", "opentelemetry-sdk", "std-uritemplate")
THIN_PACKAGES = ("requests", "urllib3", "msal", "PyJWT")


def _org(boxes: int) -> dict[str, Any]:
    users = [{"address": f"box{n}@bench.test", "name": f"Box {n}"} for n in range(boxes)]
    app = {"client_id": APP, "client_secret": SECRET, "graph_permissions": ["Mail.ReadWrite", "Mail.Send"]}
    return {"users": users, "apps": [app]}


def _requests_session(sim: Controller) -> Any:
    import requests

    session = requests.Session()
    session.verify = str(sim.ca_file)
    session.trust_env = False  # the simulator is on loopback: no proxy, no REQUESTS_CA_BUNDLE override
    return session


def _thin(sim: Controller) -> GraphClient:
    session = _requests_session(sim)
    credentials = AppCredentials(TENANT, APP, secret=SECRET)
    tokens = TokenSource(credentials, endpoints("global"), session, sim.base_url)
    return GraphClient(tokens, sim.graph_url, session, SystemClock())


def _fill(sim: Controller, box: str, count: int) -> None:
    for n in range(count):
        sim.control.inject(box, from_="sender@fabrikam.test", subject=f"bench {n}", body=BODY)


def thin_one_by_one(client: GraphClient, box: str) -> int:
    mailbox = GraphMailbox(client, box)
    ids = _delta_ids(mailbox)
    root = f"/users/{box}/messages"
    for mid in ids:
        assert client.request("GET", box, f"{root}/{mid}/$value").content
        client.request("PATCH", box, f"{root}/{mid}", json={"categories": [CATEGORY], "isRead": True})
    return len(ids)


def thin_batched(client: GraphClient, box: str) -> int:
    mailbox = GraphMailbox(client, box)
    ids = _delta_ids(mailbox)
    mime = mailbox.fetch_mime(ids)
    assert all(isinstance(m, bytes) for m in mime.values())
    mailbox.acknowledge(ids, categories=[CATEGORY], mark_read=True)
    return len(ids)


def _delta_ids(mailbox: GraphMailbox) -> list[str]:
    ids: list[str] = []
    link: str | None = None
    while True:
        page = mailbox.delta_page(link, page_size=50)
        ids += [m.id for m in page.messages]
        if page.delta_link:
            return ids
        link = page.next_link


def sdk_one_by_one(sim: Controller, token: Callable[[], str], box: str) -> int:
    return asyncio.run(_sdk_run(sim, token, box))


async def _sdk_run(sim: Controller, token: Callable[[], str], box: str) -> int:
    # The SDK is optional and loaded by name, so the module type-checks with and without it installed.
    httpx: Any = importlib.import_module("httpx")
    auth: Any = importlib.import_module("kiota_abstractions.authentication")
    msgraph: Any = importlib.import_module("msgraph")
    message: Any = importlib.import_module("msgraph.generated.models.message").Message

    class Tokens(auth.AccessTokenProvider):  # type: ignore[misc]
        async def get_authorization_token(self, uri: str, additional_context: Any = None) -> str:
            return token()

        def get_allowed_hosts_validator(self) -> Any:
            return auth.AllowedHostsValidator([])

    async with httpx.AsyncClient(verify=str(sim.ca_file), trust_env=False) as http:
        provider = auth.BaseBearerTokenAuthenticationProvider(Tokens())
        adapter = msgraph.GraphRequestAdapter(provider, client=http)
        adapter.base_url = sim.graph_url
        user = msgraph.GraphServiceClient(request_adapter=adapter).users.by_user_id(box)
        delta = user.mail_folders.by_mail_folder_id("inbox").messages.delta
        ids: list[str] = []
        page = await delta.get()
        while True:
            ids += [str(m.id) for m in page.value or []]
            if not page.odata_next_link:
                break
            page = await delta.with_url(page.odata_next_link).get()
        for mid in ids:
            await user.messages.by_message_id(mid).content.get()
            await user.messages.by_message_id(mid).patch(message(is_read=True, categories=[CATEGORY]))
        return len(ids)


def import_seconds(module: str) -> float:
    """Median wall time of ``import module`` in a fresh interpreter (3 runs), minus a bare start."""
    def run(code: str) -> float:
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
        return time.perf_counter() - started
    bare = statistics.median(run("pass") for _ in range(3))
    return statistics.median(run(f"import {module}") for _ in range(3)) - bare


def installed_mb(packages: tuple[str, ...]) -> float:
    total = 0
    for name in packages:
        try:
            dist = md.distribution(name)
        except md.PackageNotFoundError:
            continue
        total += sum((f.size or 0) for f in dist.files or [])
    return total / 1e6


def sdk_available() -> bool:
    try:
        md.distribution("msgraph-sdk")
    except md.PackageNotFoundError:
        return False
    return True


@click.command()
@click.option("--messages", type=click.IntRange(1, 5000), default=200, show_default=True)
@click.option("--repeats", type=click.IntRange(1, 10), default=3, show_default=True)
def main(messages: int, repeats: int) -> None:
    """Measure the thin Graph client and Microsoft's SDK side by side; print messages per second."""
    rows: dict[str, list[float]] = {"thin, one by one": [], "thin, $batch": []}
    with_sdk = sdk_available()
    if with_sdk:
        rows["msgraph-sdk, one by one"] = []
    with tempfile.TemporaryDirectory() as tmp, Controller(
        state_dir=Path(tmp), seed=_org(len(rows) * repeats)
    ) as sim:
        client = _thin(sim)
        box = 0
        for _ in range(repeats):
            for label in rows:
                address = f"box{box}@bench.test"
                box += 1
                _fill(sim, address, messages)
                started = time.perf_counter()
                if label == "thin, one by one":
                    done = thin_one_by_one(client, address)
                elif label == "thin, $batch":
                    done = thin_batched(client, address)
                else:
                    done = sdk_one_by_one(sim, client._tokens.token, address)
                elapsed = time.perf_counter() - started
                assert done == messages, (label, done)
                assert all(v.is_read and v.categories == [CATEGORY] for v in sim.control.messages(address))
                rows[label].append(messages / elapsed)
    base = statistics.median(rows["thin, one by one"])
    click.echo(f"Graph clients against the simulator: {messages} messages of 8 KB, median of {repeats}")
    click.echo(f"{'client':<26}{'msg/s':>10}{'ratio':>8}")
    for label, values in rows.items():
        rate = statistics.median(values)
        click.echo(f"{label:<26}{rate:>10.1f}{rate / base:>8.2f}")
    click.echo(f"import time: requests+msal {import_seconds('msal') * 1000:.0f} ms"
               + (f", msgraph (SDK) {import_seconds('msgraph') * 1000:.0f} ms" if with_sdk else ""))
    click.echo(f"installed: thin {installed_mb(THIN_PACKAGES):.1f} MB"
               + (f", SDK {installed_mb(SDK_PACKAGES):.1f} MB (plus the thin client's)" if with_sdk else ""))
    if not with_sdk:
        click.echo("msgraph-sdk is not installed: `pip install msgraph-sdk` to add its row")


if __name__ == "__main__":
    main()

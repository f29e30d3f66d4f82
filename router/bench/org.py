"""The benchmark's organisation in the simulator, and exchangelib accounts that reach it.

One service account (``svc-bench``) holds Full Access on every benchmark mailbox, as a router's
service account does. Client accounts are built by the router's own ``AccountFactory`` from a
``ConnectionSpec`` (Basic over HTTPS, the simulator's CA, a fixed server version so nothing is
probed), which is the same exchangelib set-up a hand-written script would have.
"""

from __future__ import annotations

from typing import Any

from exchangelib.account import Account
from pydantic import SecretStr

from router.clock import SystemClock
from router.ews.connection import AccountFactory
from router.ews.spec import AuthKind, ConnectionSpec
from router.harness.simprocess import SimulatorProcess

SERVICE = "svc-bench@contoso.com"
PASSWORD = "Bench-Passw0rd!"
EXTERNAL = "far@fabrikam.com"
SERVER_VERSION = "15.2.2562.17"


def mailbox_address(size: str) -> str:
    """The mailbox holding the messages of one size (``8KB`` -> ``box-8kb@contoso.com``)."""
    return f"box-{size.lower()}@contoso.com"


def bench_seed(sizes: list[str]) -> dict[str, Any]:
    """The simulator seed: the service account and one mailbox per message size."""
    users: list[dict[str, Any]] = [{"address": SERVICE, "name": "Bench Service", "password": PASSWORD,
                                    "username": "svc-bench"}]
    users += [{"address": mailbox_address(size), "name": f"Bench {size}", "full_access": [SERVICE]}
              for size in sizes]
    return {"users": users}


class Accounts:
    """exchangelib accounts on the simulator, as the service account; ``close`` drops their pools."""

    def __init__(self, sim: SimulatorProcess) -> None:
        self._sim = sim
        self._factory = AccountFactory(SystemClock())

    def account(self, mailbox: str) -> Account:
        spec = ConnectionSpec(mailbox=mailbox, ews_url=self._sim.url, auth=AuthKind.BASIC, username=SERVICE,
                              password=SecretStr(PASSWORD), ca_bundle=self._sim.ca_file,
                              server_version=SERVER_VERSION, max_connections=4)
        return self._factory.account(spec)

    def close(self) -> None:
        self._factory.close()

    def __enter__(self) -> Accounts:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

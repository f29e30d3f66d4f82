"""The mailbox-session contract suite runs every test against each transport's implementation:
EWS (router/ews/session.py, exchangelib over HTTPS) and Microsoft Graph (router/graph/session.py),
both against the same simulated organisation."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from exchangelib.protocol import BaseProtocol, close_connections

from router.clock import FrozenClock
from router.ews.session import EwsSession
from router.graph.mailbox import GraphMailbox
from router.graph.session import GraphSession
from router.mailbox.session import MailboxSession
from router.simulator import Controller
from tests.support.ews_simulator import make_account, simulator_adapter
from tests.support.graph_simulator import SVC, SVC_PASSWORD, graph_client, graph_org, graph_tls_dir

__all__ = ["graph_tls_dir"]


@dataclass
class Box:
    """A session on the service mailbox, the simulator behind it and a frozen clock."""

    session: MailboxSession
    sim: Controller
    clock: FrozenClock


def _session(
    kind: str, sim: Controller, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> MailboxSession:
    if kind == "graph":
        return GraphSession(GraphMailbox(graph_client(sim), SVC), clock)
    monkeypatch.setattr(BaseProtocol, "HTTP_ADAPTER_CLS", simulator_adapter(sim.ca_file))
    return EwsSession(make_account(sim, SVC, password=SVC_PASSWORD), clock)


@pytest.fixture(params=["ews", "graph"])
def box(
    request: pytest.FixtureRequest, graph_tls_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Box]:
    clock = FrozenClock()
    with Controller(state_dir=graph_tls_dir, seed=graph_org()) as sim:
        yield Box(_session(request.param, sim, clock, monkeypatch), sim, clock)
    close_connections()

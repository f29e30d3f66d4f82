"""The mailbox-session contract suite runs every test against each transport's implementation.

Today: Microsoft Graph (router/graph/session.py) against the simulator's Graph face. The EWS
implementation joins the ``params`` list when the pipelines are wired to the contract.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from router.clock import FrozenClock
from router.graph.mailbox import GraphMailbox
from router.graph.session import GraphSession
from router.mailbox.session import MailboxSession
from router.simulator import Controller
from tests.support.graph_simulator import SVC, graph_client, graph_org, graph_tls_dir

__all__ = ["graph_tls_dir"]


@dataclass
class Box:
    """A session on the service mailbox, the simulator behind it and a frozen clock."""

    session: MailboxSession
    sim: Controller
    clock: FrozenClock
    session_for: Callable[[str], MailboxSession]


def _graph(sim: Controller, clock: FrozenClock) -> Callable[[str], MailboxSession]:
    return lambda address: GraphSession(GraphMailbox(graph_client(sim), address), clock)


@pytest.fixture(params=["graph"])
def box(request: pytest.FixtureRequest, graph_tls_dir: object) -> Iterator[Box]:
    clock = FrozenClock()
    with Controller(state_dir=graph_tls_dir, seed=graph_org()) as sim:  # type: ignore[arg-type]
        factory = {"graph": _graph}[request.param](sim, clock)
        yield Box(factory(SVC), sim, clock, factory)

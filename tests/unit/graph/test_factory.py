"""GraphFactory: from GraphSpec to a working session, one client per app registration."""

from __future__ import annotations

from pathlib import Path

import pytest

from router.clock import FrozenClock
from router.errors import TransportError
from router.graph.factory import GraphFactory, GraphSpec
from router.simulator import Controller
from tests.support.graph_simulator import (
    ALICE,
    APP,
    APP_SECRET,
    CERT_APP,
    CERTIFICATE,
    SVC,
    TENANT,
    graph_sim,
    graph_tls_dir,
)

__all__ = ["graph_sim", "graph_tls_dir"]


def _spec(sim: Controller, mailbox: str = SVC, **kwargs: object) -> GraphSpec:
    values: dict[str, object] = {
        "mailbox": mailbox, "tenant": TENANT, "client_id": APP, "secret": APP_SECRET,
        "authority_host": sim.base_url, "graph_url": sim.graph_url, "ca_bundle": sim.ca_file,
    }
    return GraphSpec(**(values | kwargs))  # type: ignore[arg-type]


def test_mailboxes_of_one_app_share_a_client_and_its_token(graph_sim: Controller) -> None:
    factory = GraphFactory(FrozenClock())
    try:
        svc, alice = factory.session(_spec(graph_sim)), factory.session(_spec(graph_sim, ALICE))
        assert svc.sync_page(None).state and alice.sync_page(None).state
        assert factory.client(_spec(graph_sim)) is factory.client(_spec(graph_sim, ALICE))
        assert len(graph_sim.simulator.tokens._tokens) == 1
        rotated = _spec(graph_sim, secret="a-new-secret")
        assert factory.client(rotated) is not factory.client(_spec(graph_sim))
        cert = _spec(graph_sim, client_id=CERT_APP, secret=None, certificate=CERTIFICATE)
        assert factory.session(cert).sync_page(None).state
    finally:
        factory.close()


def test_tls_is_verified_against_the_spec_ca_not_the_environment(
    graph_sim: Controller, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(graph_sim.ca_file))
    factory = GraphFactory(FrozenClock())
    try:
        with pytest.raises(TransportError):
            factory.session(_spec(graph_sim, ca_bundle=None)).sync_page(None)
    finally:
        factory.close()


def test_a_spec_never_shows_its_secret(graph_sim: Controller) -> None:
    spec = _spec(graph_sim, certificate=CERTIFICATE)
    assert APP_SECRET not in repr(spec) and "PRIVATE KEY" not in repr(spec)

"""Mailbox health of a Graph mailbox, with the real service and its real incoming lanes.

A client secret Entra ID refuses stops the mailbox with Failure, an alert and the CRM's mailbox error,
as a wrong password does over EWS; the right secret, published, brings the "recovered" notice.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from pydantic import SecretStr

from router.pipeline.incoming.lanes import IncomingLanes
from router.runtime.lane import LaneKey
from router.runtime.metrics import Metrics
from router.runtime.outcome import RunKind
from router.runtime.registry import LaneWorkRegistry
from router.runtime.resources import Resources
from router.service.assembly import assemble_service
from router.service.mailbox_health import stop_alert_kind
from router.service.service import Service
from router.state import AlertStatus, HealthStatus
from router.state import Direction as StateDirection
from router.vault import Vault
from router.vault.credentials import OAuthClientSecretCredential
from tests.flows.kit import IN, Contoso
from tests.flows.test_test_access_graph import APP, SECRET, TENANT, graph_profiles
from tests.support.ews_simulator import ALICE
from tests.unit.service.lanes_kit import WAIT, FixedJitter, Recorder

pytestmark = pytest.mark.flow


@contextmanager
def serving(org: Contoso, recorder: Recorder) -> Iterator[Service]:
    """The real service with the real incoming lanes (over whatever transport each profile names)."""
    resources = Resources(org.home, org.clock, Metrics())
    registry = LaneWorkRegistry()
    lanes = IncomingLanes(resources, notifications=False)
    registry.register(IN, lanes.build)
    registry.call_on_close(lanes.close)
    registry.call_on_close(resources.close)
    service = assemble_service(org.home, registry, resources, observers=[recorder], rng=FixedJitter())
    try:
        service.start()
        yield service
    finally:
        service.stop(grace=WAIT)


def publish(org: Contoso, secret: str) -> None:
    Vault.open(org.home).set("graph", OAuthClientSecretCredential(client_secret=SecretStr(secret)))
    org.directory.mkdir(parents=True, exist_ok=True)
    (org.directory / "graph.toml").write_text(graph_profiles(org))
    org.publish(f'[[users]]\naddress = "{ALICE}"\nincoming_profile = "graph_in"\noutgoing = false\n',
                default_outgoing=None)


def test_a_refused_secret_stops_the_graph_mailbox_and_the_published_fix_recovers_it(contoso: Contoso) -> None:
    contoso.sim.control.seed({"apps": [{"client_id": APP, "client_secret": SECRET, "tenant": TENANT,
                                        "graph_permissions": ["Mail.ReadWrite", "Mail.Send"]}]})
    publish(contoso, "not-the-secret")
    recorder = Recorder()
    alice = LaneKey(ALICE, IN)
    with serving(contoso, recorder) as service:
        recorder.wait_for(lambda: any(key == alice for key, _ in recorder.stopped))
        with contoso.store() as store:
            health = store.health.get(ALICE, StateDirection.INCOMING)
            (alert,) = [a for a in store.alerts.open_alerts() if a.mailbox == ALICE]
        assert (health.status, health.stopped) == (HealthStatus.FAILURE, True)
        assert health.last_error is not None and "Entra ID refused a token" in health.last_error
        assert alert.kind == stop_alert_kind(IN)
        assert "incoming mail of alice@contoso.com stopped" in alert.text
        row = contoso.mailbox(ALICE)
        assert (row["incomingemailstatus"], row["enabledforincomingemail"]) == (2, False)

        contoso.clock.advance(60)
        publish(contoso, SECRET)
        service.reload_now()
        assert recorder.wait_runs(2, alice)[-1].kind is RunKind.IDLE

    with contoso.store() as store:
        health = store.health.get(ALICE, StateDirection.INCOMING)
        resolved = store.alerts.get(alert.id)
    assert (health.status, health.stopped) == (HealthStatus.SUCCESS, False)
    assert resolved is not None
    assert (resolved.status, resolved.resolution) == (AlertStatus.RESOLVED, "recovered")
    row = contoso.mailbox(ALICE)
    assert (row["incomingemailstatus"], row["enabledforincomingemail"]) == (1, True)

"""The status endpoint serves the registry and the service's probes over HTTP on 127.0.0.1."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
import requests

from router.errors import ConfigError
from router.runtime.metrics import Metrics
from router.service.status_server import ProbeResult, StatusServer


class Readiness:
    """A probe the test switches, standing in for the service's own readiness check."""

    def __init__(self) -> None:
        self.ready = False

    def __call__(self) -> ProbeResult:
        if self.ready:
            return ProbeResult(True, "all lanes scheduled", {"config": True, "state": True})
        return ProbeResult(False, "configuration not loaded", {"config": False, "state": True})


def broken_probe() -> ProbeResult:
    raise RuntimeError("state store closed")


@pytest.fixture
def metrics() -> Metrics:
    return Metrics()


@pytest.fixture
def readiness() -> Readiness:
    return Readiness()


@pytest.fixture
def server(metrics: Metrics, readiness: Readiness) -> Iterator[StatusServer]:
    with StatusServer(metrics, ready=readiness, host="127.0.0.1", port=0) as running:
        yield running


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


def test_metrics_are_scraped_from_the_service_registry(
        server: StatusServer, metrics: Metrics, http: requests.Session) -> None:
    metrics.sent("anna@contoso.com")
    metrics.set_backlog("anna@contoso.com", "outgoing", 4)
    response = http.get(f"{server.url}/metrics", timeout=5)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    assert 'email_router_sends_total{mailbox="anna@contoso.com"} 1.0' in response.text
    backlog = 'email_router_mailbox_backlog{direction="outgoing",mailbox="anna@contoso.com"} 4.0'
    assert backlog in response.text
    assert "python_gc_objects_collected_total" not in response.text  # Not the global default registry.


def test_health_and_readiness_come_from_the_probes(
        server: StatusServer, readiness: Readiness, http: requests.Session) -> None:
    assert http.get(f"{server.url}/healthz", timeout=5).json() == {"status": "ok", "detail": "", "checks": {}}
    not_ready = http.get(f"{server.url}/readyz", timeout=5)
    assert not_ready.status_code == 503
    assert not_ready.json() == {"status": "unavailable", "detail": "configuration not loaded",
                                "checks": {"config": False, "state": True}}
    readiness.ready = True
    ready = http.get(f"{server.url}/readyz", timeout=5)
    assert ready.status_code == 200 and ready.json()["detail"] == "all lanes scheduled"


def test_a_failing_probe_answers_unavailable(metrics: Metrics, http: requests.Session) -> None:
    with StatusServer(metrics, health=broken_probe) as server:
        response = http.get(f"{server.url}/healthz", timeout=5)
    assert response.status_code == 503
    assert response.json()["detail"] == "the probe failed: RuntimeError: state store closed"


def test_unknown_paths_and_methods(server: StatusServer, http: requests.Session) -> None:
    assert http.get(f"{server.url}/", timeout=5).status_code == 404
    assert http.post(f"{server.url}/metrics", timeout=5).status_code == 405
    assert http.head(f"{server.url}/healthz", timeout=5).status_code == 200


def test_stop_releases_the_port(metrics: Metrics) -> None:
    server = StatusServer(metrics).start()
    port = server.port
    server.stop()
    server.stop()  # Stopping twice is harmless.
    with pytest.raises(RuntimeError, match="not running"):
        _ = server.port
    with StatusServer(metrics, port=port) as again:
        assert again.port == port


def test_a_taken_port_is_a_clear_config_error(metrics: Metrics) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        port = holder.getsockname()[1]
        with pytest.raises(ConfigError, match=f"cannot listen on 127.0.0.1:{port}") as info:
            StatusServer(metrics, port=port).start()
    assert "another host or port" in info.value.hint


def test_starting_twice_is_refused(server: StatusServer) -> None:
    with pytest.raises(RuntimeError, match="already running"):
        server.start()


def test_a_degraded_probe_answers_200_saying_degraded(metrics: Metrics, http: requests.Session) -> None:
    def degraded() -> ProbeResult:
        return ProbeResult(True, "running, degraded: 1 open alert(s)", {"scheduler": True}, degraded=True)

    with StatusServer(metrics, health=degraded) as server:
        response = http.get(f"{server.url}/healthz", timeout=5)
    assert response.status_code == 200
    assert response.json() == {"status": "degraded", "detail": "running, degraded: 1 open alert(s)",
                               "checks": {"scheduler": True}}

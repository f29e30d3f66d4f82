"""The Dynamics adapter's sessions read proxies and the CA bundle from the environment once.

requests scans the whole environment before every request of a session that trusts it; the adapter's
per-thread sessions resolve ``HTTP(S)_PROXY`` / ``NO_PROXY`` / ``REQUESTS_CA_BUNDLE`` for the Web API
when they are made, and the configuration keeps working.
"""

from __future__ import annotations

import pytest
import requests

from router.clock import FrozenClock
from router.crm.dynamics import DynamicsGateway
from router.crm.dynamics.client import WebApiClient
from router.crm.facade import CrmFacade
from router.errors import CrmTransientError
from tests.support.crm import ntlm_settings

PROXY = "http://127.0.0.1:9"  # the discard port: nothing answers there


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy",
                 "ALL_PROXY", "all_proxy", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)


def test_the_web_api_is_reached_with_the_environment_read_once(
        crm_facade: CrmFacade, crm_clock: FrozenClock, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", PROXY)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    gateway = DynamicsGateway(ntlm_settings(crm_facade), clock=crm_clock)
    try:
        gateway.who_am_i()
        monkeypatch.setattr(requests.sessions, "get_environ_proxies",
                            lambda *args: pytest.fail("the environment was read again for a request"))
        assert gateway.who_am_i().user_id
    finally:
        gateway.close()


def test_a_proxy_in_the_environment_is_used(crm_facade: CrmFacade, crm_clock: FrozenClock,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", PROXY)
    gateway = DynamicsGateway(ntlm_settings(crm_facade, max_retries=0), clock=crm_clock)
    try:
        with pytest.raises(CrmTransientError):
            gateway.who_am_i()
    finally:
        gateway.close()


def test_a_ca_bundle_in_the_environment_is_the_default_verification(
        crm_facade: CrmFacade, crm_clock: FrozenClock, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/contoso/ca.pem")
    client = WebApiClient(ntlm_settings(crm_facade), crm_clock)
    try:
        assert client._session().verify == "/etc/contoso/ca.pem"
    finally:
        client.close()

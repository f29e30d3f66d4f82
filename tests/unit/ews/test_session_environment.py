"""EWS sessions read proxies and the CA bundle from the environment once, not before every request.

``install_tls_adapter`` makes exchangelib's sessions (``BaseProtocol.raw_session``) resolve
``HTTPS_PROXY`` / ``NO_PROXY`` and ``REQUESTS_CA_BUNDLE`` for their server when they are made, and stop
requests from scanning the environment per request; the configuration a user gives keeps working.
"""

from __future__ import annotations

import pytest
import requests
from exchangelib.protocol import BaseProtocol, Protocol

from router.ews.tls import install_tls_adapter

EWS = "https://mail.contoso.test/EWS/Exchange.asmx"
PROXY = "http://proxy.contoso.test:3128"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy",
                 "ALL_PROXY", "all_proxy", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    install_tls_adapter()


def _settings(session: requests.Session) -> dict[str, object]:
    """What requests would use for a request to the EWS endpoint (proxies, verify)."""
    settings: dict[str, object] = session.merge_environment_settings(EWS, {}, False, None, None)
    return settings


def test_a_proxy_in_the_environment_is_used_and_read_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", PROXY)
    session = Protocol.raw_session(EWS)
    assert session.trust_env is False
    monkeypatch.setattr(requests.sessions, "get_environ_proxies",
                        lambda *args: pytest.fail("the environment was read again for a request"))
    assert _settings(session)["proxies"] == {"https": PROXY}


def test_no_proxy_exempts_the_server(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", PROXY)
    monkeypatch.setenv("NO_PROXY", ".contoso.test")
    assert _settings(Protocol.raw_session(EWS))["proxies"] == {}


def test_a_ca_bundle_in_the_environment_is_the_default_verification(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/contoso/ca.pem")
    assert _settings(Protocol.raw_session(EWS))["verify"] == "/etc/contoso/ca.pem"
    monkeypatch.delenv("REQUESTS_CA_BUNDLE")
    assert _settings(Protocol.raw_session(EWS))["verify"] is True


def test_installing_twice_wraps_once() -> None:
    install_tls_adapter()
    first = BaseProtocol.__dict__["raw_session"]
    install_tls_adapter()
    assert BaseProtocol.__dict__["raw_session"] is first

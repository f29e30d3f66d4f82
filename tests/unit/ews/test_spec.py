"""ConnectionSpec checks itself: every problem at once, naming the mailbox, never echoing a secret."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from router.errors import ConfigError
from router.ews import AccessType, AuthKind, ConnectionSpec

PW = SecretStr("hunter2-secret")


def test_a_complete_basic_spec_is_accepted() -> None:
    spec = ConnectionSpec("user@example.com", ews_url="https://mail.example.com/EWS/Exchange.asmx",
                          username="EXAMPLE\\svc", password=PW, access_type=AccessType.IMPERSONATION,
                          server_version="15.2.1544.4")
    assert spec.domain == "example.com"
    assert spec.describe() == ("user@example.com via https://mail.example.com/EWS/Exchange.asmx "
                               "(basic as EXAMPLE\\svc, impersonation)")


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(ConfigError) as caught:
        ConnectionSpec("user@example.com", timeout=0, max_connections=0, server_version="99.9")
    text = str(caught.value)
    for expected in ("give an EWS URL or turn Autodiscover on", "basic authentication needs username",
                     "basic authentication needs password", "timeout and connect_timeout must be positive",
                     "max_connections must be at least 1", "server_version '99.9'"):
        assert expected in text
    assert caught.value.mailbox == "user@example.com" and "publish" in caught.value.hint


@pytest.mark.parametrize(("changes", "problem"), [
    ({"mailbox": "not-an-address"}, "must look like user@domain"),
    ({"autodiscover": True}, "not both"),
    ({"ews_url": "ftp://mail.example.com/EWS"}, "is not an http(s) URL"),
    ({"autodiscover_url": "https://ad.example.com/autodiscover/autodiscover.svc"},
     "only used with Autodiscover"),
    ({"ca_bundle": Path("/nonexistent/ca.pem")}, "does not exist"),
    ({"auth": AuthKind.NTLM, "username": "svc"}, "DOMAIN\\user or user@domain"),
    ({"server_version": "fifteen"}, "must be an Exchange build"),
])
def test_each_kind_of_mistake_is_named(changes: dict[str, object], problem: str) -> None:
    settings: dict[str, object] = {"mailbox": "user@example.com", "ews_url": "https://mail.example.com/EWS/Exchange.asmx",
                                   "username": "svc@example.com", "password": PW}
    with pytest.raises(ConfigError, match="not usable") as caught:
        ConnectionSpec(**{**settings, **changes})  # type: ignore[arg-type]
    assert problem in str(caught.value)


def test_a_ca_bundle_with_verification_off_is_contradictory(tmp_path: Path) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    with pytest.raises(ConfigError, match="TLS verification is off"):
        ConnectionSpec("user@example.com", ews_url="https://x/EWS/Exchange.asmx", username="u@x", password=PW,
                       ca_bundle=bundle, tls_verify=False)


def test_oauth_needs_client_credentials_and_an_https_token_endpoint() -> None:
    with pytest.raises(ConfigError) as caught:
        ConnectionSpec("user@example.com", ews_url="https://x/EWS/Exchange.asmx", auth=AuthKind.OAUTH,
                       oauth_token_endpoint="http://login.example.com/token")
    text = str(caught.value)
    assert "OAuth needs oauth_client_id" in text and "OAuth needs oauth_client_secret" in text
    assert "must be an https:// URL" in text
    with pytest.raises(ConfigError, match="oauth_tenant_id or oauth_token_endpoint"):
        ConnectionSpec("user@example.com", ews_url="https://x/EWS/Exchange.asmx", auth=AuthKind.OAUTH,
                       oauth_client_id="app", oauth_client_secret=PW)


def test_secrets_never_show() -> None:
    spec = ConnectionSpec("user@example.com", ews_url="https://x/EWS/Exchange.asmx", auth=AuthKind.OAUTH,
                          oauth_client_id="app-id", oauth_client_secret=PW, oauth_tenant_id="tenant")
    assert "hunter2" not in repr(spec) and "hunter2" not in spec.describe()
    with pytest.raises(ConfigError) as caught:
        ConnectionSpec("user@example.com", username="svc", password=PW)
    assert "hunter2" not in str(caught.value)

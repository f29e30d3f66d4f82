"""Published profiles become the ConnectionSpec each mailbox is opened with."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from router.config import Direction, load_published, publish
from router.errors import ConfigError, CredentialNotFoundError
from router.ews.spec import AccessType, AuthKind
from router.home import Home
from router.runtime.connections import LOCAL_SYSTEM_CREDENTIAL, connection_spec
from router.vault import OAuthClientSecretCredential, PasswordCredential, Vault, VaultKey, write_new_key_file

PROFILES = """
[profiles.in]
direction = "incoming"
server_type = "exchange_se"
ews_url = "https://mail.example.test/EWS/Exchange.asmx"
auth = "ntlm"
credentials = "other_specified"
credential = "svc"
user_type = "administrator"
access_type = "impersonation"
tls = { ca_bundle = "ca.pem" }

[profiles.out]
direction = "outgoing"
server_type = "exchange_se"
autodiscover = true
auth = "basic"
credentials = "user_specified"

[profiles.local]
direction = "incoming"
server_type = "exchange_2019"
ews_url = "https://mail.example.test/EWS/Exchange.asmx"
auth = "ntlm"
credentials = "local_system"

[profiles.cloud]
direction = "incoming"
server_type = "exchange_online"
ews_url = "https://outlook.office365.com/EWS/Exchange.asmx"
auth = "oauth"
oauth = { tenant_id = "contoso.test", client_id = "app-1", token_endpoint = "https://127.0.0.1:1/token" }
credentials = "other_specified"
credential = "app"
user_type = "administrator"
access_type = "impersonation"

[deployments.main]
default_incoming_profile = "in"
default_outgoing_profile = "out"

[[users]]
address = "alice@example.test"
credential = "alice"

[[users]]
address = "bob@example.test"
outgoing = false
incoming_profile = "local"

[[users]]
address = "carol@example.test"
outgoing = false
incoming_profile = "cloud"
"""


@pytest.fixture
def config_dir(home: Home, tmp_path: Path) -> Path:
    write_new_key_file(home.key_file, VaultKey.generate())
    vault = Vault.open(home)
    vault.set("svc", PasswordCredential(username="EXAMPLE\\svc", password=SecretStr("svc-pw")))
    vault.set("alice", PasswordCredential(username="alice@example.test", password=SecretStr("alice-pw")))
    vault.set("app", OAuthClientSecretCredential(client_secret=SecretStr("app-secret")))
    directory = tmp_path / "profiles"
    directory.mkdir()
    (directory / "main.toml").write_text(PROFILES)
    (directory / "ca.pem").write_text("-----BEGIN CERTIFICATE-----\n")
    return directory


def _assignment(home: Home, config_dir: Path, address: str):  # type: ignore[no-untyped-def]
    publish(home, config_dir)
    config = load_published(home)
    return config, next(a for a in config.profiles.mailboxes() if a.address == address)


def test_impersonating_service_account_with_relative_ca(home: Home, config_dir: Path) -> None:
    config, alice = _assignment(home, config_dir, "alice@example.test")
    spec = connection_spec(config, alice, Direction.INCOMING)
    assert (spec.auth, spec.access_type, spec.username) == (AuthKind.NTLM, AccessType.IMPERSONATION,
                                                             "EXAMPLE\\svc")
    assert spec.password is not None and spec.password.get_secret_value() == "svc-pw"
    assert spec.ca_bundle == config_dir.resolve() / "ca.pem"
    assert "svc-pw" not in repr(spec)


def test_user_specified_uses_the_mailbox_own_credential(home: Home, config_dir: Path) -> None:
    config, alice = _assignment(home, config_dir, "alice@example.test")
    spec = connection_spec(config, alice, Direction.OUTGOING)
    assert spec.autodiscover and spec.ews_url is None
    assert (spec.auth, spec.access_type, spec.username) == (AuthKind.BASIC, AccessType.DELEGATE,
                                                             "alice@example.test")


def test_oauth_profile_carries_token_endpoint_and_secret(home: Home, config_dir: Path) -> None:
    config, carol = _assignment(home, config_dir, "carol@example.test")
    spec = connection_spec(config, carol, Direction.INCOMING)
    assert spec.auth is AuthKind.OAUTH and spec.oauth_client_id == "app-1"
    assert spec.oauth_token_endpoint == "https://127.0.0.1:1/token"
    assert spec.oauth_client_secret is not None
    assert spec.oauth_client_secret.get_secret_value() == "app-secret"


def test_local_system_needs_the_service_identity_credential(home: Home, config_dir: Path) -> None:
    config, bob = _assignment(home, config_dir, "bob@example.test")
    with pytest.raises(CredentialNotFoundError) as caught:
        connection_spec(config, bob, Direction.INCOMING)
    assert LOCAL_SYSTEM_CREDENTIAL in str(caught.value)


def test_direction_without_profile_is_a_clear_error(home: Home, config_dir: Path) -> None:
    config, bob = _assignment(home, config_dir, "bob@example.test")
    with pytest.raises(ConfigError, match=r"bob@example\.test has no outgoing profile"):
        connection_spec(config, bob, Direction.OUTGOING)

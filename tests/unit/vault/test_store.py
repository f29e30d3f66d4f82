"""The vault: sealed at rest; wrong key, tampering and truncation are refused with the file named."""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime

import pytest
from pydantic import SecretStr

from router.clock import FrozenClock
from router.errors import CredentialNotFoundError, UsageError, VaultCorruptError, WrongKeyError
from router.home import Home
from router.vault import OAuthClientSecretCredential, PasswordCredential, Vault, VaultKey, write_new_key_file

CANARY = "canary-Vault-5ecret-7f3a"


@pytest.fixture
def key(home: Home) -> VaultKey:
    key = VaultKey.generate()
    write_new_key_file(home.key_file, key)
    return key


def _filled(home: Home, key: VaultKey) -> Vault:
    vault = Vault.open(home, key, clock=FrozenClock(datetime(2026, 3, 1, tzinfo=UTC)))
    vault.set("svc", PasswordCredential(username="CONTOSO\\svc", password=SecretStr(CANARY)))
    vault.set("app", OAuthClientSecretCredential(client_secret=SecretStr("app-secret-value")))
    return vault


def test_credentials_round_trip_and_stay_encrypted(home: Home, key: VaultKey) -> None:
    _filled(home, key)
    raw = home.vault_file.read_bytes()
    assert CANARY.encode() not in raw and b"CONTOSO" not in raw and b"app-secret-value" not in raw
    assert stat.S_IMODE(home.vault_file.stat().st_mode) == 0o600
    reopened = Vault.open(home)
    svc = reopened.get("svc")
    assert isinstance(svc, PasswordCredential) and svc.password.get_secret_value() == CANARY
    assert svc.updated_at == datetime(2026, 3, 1, tzinfo=UTC)
    assert reopened.kinds() == {"svc": "password", "app": "oauth_client_secret"}
    assert CANARY not in repr(svc) and CANARY not in repr(reopened)


def test_delete_and_missing_credential(home: Home, key: VaultKey) -> None:
    vault = _filled(home, key)
    vault.delete("svc")
    assert Vault.open(home).names() == ["app"]
    with pytest.raises(CredentialNotFoundError) as caught:
        Vault.open(home).get("svc")
    assert "credentials set svc" in caught.value.hint


def test_invalid_credential_name_is_refused(home: Home, key: VaultKey) -> None:
    with pytest.raises(UsageError):
        Vault.open(home, key).set("bad name", OAuthClientSecretCredential(client_secret=SecretStr("x" * 8)))


def test_wrong_key_is_named(home: Home, key: VaultKey) -> None:
    _filled(home, key)
    with pytest.raises(WrongKeyError) as caught:
        Vault.open(home, VaultKey.generate())
    assert caught.value.path == str(home.vault_file) and "rotate-key" in caught.value.hint


@pytest.mark.parametrize("damage", ["flip", "truncate", "cut_ciphertext", "unknown_format"])
def test_tampered_or_truncated_vault_is_refused(home: Home, key: VaultKey, damage: str) -> None:
    _filled(home, key)
    raw = home.vault_file.read_text()
    document = json.loads(raw)
    if damage == "flip":
        ct = document["sealed"]["ciphertext"]
        document["sealed"]["ciphertext"] = ct[:10] + ("A" if ct[10] != "A" else "B") + ct[11:]
        home.vault_file.write_text(json.dumps(document))
    elif damage == "truncate":
        home.vault_file.write_text(raw[: len(raw) // 2])
    elif damage == "cut_ciphertext":
        document["sealed"]["ciphertext"] = document["sealed"]["ciphertext"][:-8]
        home.vault_file.write_text(json.dumps(document))
    else:
        document["format_version"] = 2
        home.vault_file.write_text(json.dumps(document))
    with pytest.raises(VaultCorruptError) as caught:
        Vault.open(home)
    assert caught.value.path == str(home.vault_file)
    assert CANARY not in str(caught.value)


def test_missing_vault_is_empty(home: Home, key: VaultKey) -> None:
    assert Vault.open(home).names() == []


def test_two_open_vaults_lose_no_update(home: Home, key: VaultKey) -> None:
    first, second = Vault.open(home, key), Vault.open(home, key)
    first.set("one", OAuthClientSecretCredential(client_secret=SecretStr("secret-one")))
    second.set("two", OAuthClientSecretCredential(client_secret=SecretStr("secret-two")))
    assert Vault.open(home).names() == ["one", "two"]
    assert home.vault_file.with_name("vault.json.lock").exists()

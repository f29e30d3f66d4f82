"""Publishing: numbered sealed versions, refused when edited or damaged, rolled back by republishing."""

from __future__ import annotations

import json
import shutil
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import SecretStr

from router.clock import FrozenClock
from router.config import (
    PublishedResealer,
    latest_version,
    list_published,
    load_profiles,
    load_published,
    publish,
    published_path,
    rollback,
)
from router.errors import (
    CredentialNotFoundError,
    KeyFileError,
    ProfileValidationError,
    PublishedConfigError,
    WrongKeyError,
)
from router.home import Home
from router.vault import PasswordCredential, Vault, VaultKey, load_key, rotate_key, write_new_key_file
from router.vault.key import pending_key_file

CANARY = "canary-Publish-0d9e"
CLOCK = FrozenClock(datetime(2026, 4, 1, 9, 30, tzinfo=UTC))


@pytest.fixture
def ready(home: Home, profiles_dir: Path) -> Path:
    """A home with a key and the credential the base profiles need."""
    write_new_key_file(home.key_file, VaultKey.generate())
    Vault.open(home).set("svc", PasswordCredential(username="svc", password=SecretStr(CANARY)))
    return profiles_dir


def test_publish_then_load_latest(home: Home, ready: Path) -> None:
    assert latest_version(home) is None
    assert publish(home, ready, clock=CLOCK) == 1
    assert publish(home, ready, clock=CLOCK) == 2
    config = load_published(home)
    assert (config.version, config.published_at, config.source) == (2, CLOCK.now(), str(ready.resolve()))
    assert config.profiles == load_profiles(ready)
    cred = config.credential("svc")
    assert isinstance(cred, PasswordCredential) and cred.password.get_secret_value() == CANARY
    assert config.secret_values() == [CANARY]
    assert latest_version(home) == 2 and load_published(home, 1).version == 1


def test_published_file_is_private_and_holds_no_secret(home: Home, ready: Path) -> None:
    publish(home, ready)
    path = published_path(home, 1)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert CANARY.encode() not in path.read_bytes()


def test_publish_refuses_invalid_profiles_or_missing_credentials(home: Home, ready: Path) -> None:
    Vault.open(home).delete("svc")
    with pytest.raises(ProfileValidationError, match="credentials set svc"):
        publish(home, ready)
    assert latest_version(home) is None


def test_snapshot_is_independent_of_later_vault_changes(home: Home, ready: Path) -> None:
    publish(home, ready)
    Vault.open(home).set("svc", PasswordCredential(username="svc", password=SecretStr("changed-later")))
    cred = load_published(home).credential("svc")
    assert isinstance(cred, PasswordCredential) and cred.password.get_secret_value() == CANARY
    with pytest.raises(CredentialNotFoundError):
        load_published(home).credential("other")


@pytest.mark.parametrize("edit", ["setting", "mac", "truncate", "credential_kinds", "not_json"])
def test_edited_or_damaged_version_is_refused(home: Home, ready: Path, edit: str) -> None:
    publish(home, ready)
    path = published_path(home, 1)
    document = json.loads(path.read_text())
    if edit == "setting":
        document["config"]["settings"]["max_threads"] = 5
    elif edit == "mac":
        document["mac"] = "0" * 64
    elif edit == "credential_kinds":
        document["credential_kinds"]["svc"] = "oauth_client_secret"
    text = json.dumps(document)
    path.write_text(text[:-40] if edit == "truncate" else "{{" if edit == "not_json" else text)
    with pytest.raises(PublishedConfigError) as caught:
        load_published(home)
    assert caught.value.path == str(path) and "never edit published files" in caught.value.hint


def test_version_copied_under_another_number_is_refused(home: Home, ready: Path) -> None:
    publish(home, ready)
    shutil.copy(published_path(home, 1), published_path(home, 7))
    with pytest.raises(PublishedConfigError, match="claims version 1"):
        load_published(home)
    summaries = list_published(home)
    assert [s.problem is None for s in summaries] == [True, False]


def test_missing_version_and_nothing_published(home: Home, ready: Path) -> None:
    with pytest.raises(PublishedConfigError, match="nothing has been published"):
        load_published(home)
    publish(home, ready)
    with pytest.raises(PublishedConfigError, match=r"published: 1\)"):
        load_published(home, 3)


def test_wrong_key_is_reported(home: Home, ready: Path) -> None:
    publish(home, ready)
    with pytest.raises(WrongKeyError):
        load_published(home, key=VaultKey.generate())


def test_rollback_republishes_old_content_as_newest(home: Home, ready: Path) -> None:
    publish(home, ready)
    (ready / "settings.toml").write_text("[settings]\nmax_threads = 7\n")
    publish(home, ready)
    assert load_published(home).profiles.settings.max_threads == 7
    assert rollback(home, 1, clock=CLOCK) == 3
    config = load_published(home)
    assert (config.version, config.rolled_back_from) == (3, 1)
    assert config.profiles.settings.max_threads == 50
    assert config.credential("svc").kind == "password"
    assert [s.rolled_back_from for s in list_published(home)] == [None, None, 1]


def test_rotate_key_reseals_vault_and_published_versions(home: Home, ready: Path) -> None:
    publish(home, ready)
    publish(home, ready)
    old = load_key(home)
    new = rotate_key(home, also=[PublishedResealer(home)])
    assert new.key_id != old.key_id and load_key(home).key_id == new.key_id
    assert Vault.open(home).names() == ["svc"]
    for version in (1, 2):
        assert load_published(home, version).credential("svc").kind == "password"
    with pytest.raises(WrongKeyError):
        Vault.open(home, old)
    with pytest.raises(WrongKeyError):
        load_published(home, 1, key=old)


def test_interrupted_rotation_is_finished_by_running_it_again(home: Home, ready: Path) -> None:
    publish(home, ready)
    old = load_key(home)
    pending = VaultKey.generate()
    write_new_key_file(pending_key_file(home), pending)
    # Simulate a crash after the vault was re-sealed but before the published file and the key file.
    Vault(home.vault_file, pending, {"svc": Vault.open(home, old).get("svc")}).save()
    with pytest.raises(KeyFileError, match="interrupted"):
        load_key(home)
    finished = rotate_key(home, also=[PublishedResealer(home)])
    assert finished.key_id == pending.key_id and not pending_key_file(home).exists()
    assert load_published(home).credential("svc").kind == "password"
    assert Vault.open(home).names() == ["svc"]


def test_rotation_skips_and_reports_a_broken_version(home: Home, ready: Path) -> None:
    publish(home, ready)
    publish(home, ready)
    published_path(home, 1).write_text("{}")
    key_before = home.key_file.read_bytes()
    resealer = PublishedResealer(home)
    rotate_key(home, also=[resealer])
    assert home.key_file.read_bytes() != key_before and not pending_key_file(home).exists()
    assert len(resealer.skipped) == 1 and resealer.skipped[0].startswith(str(published_path(home, 1)))
    assert load_published(home, 2).version == 2 and Vault.open(home).names() == ["svc"]
    # Nothing is stuck: the next rotation and publish work too.
    rotate_key(home, also=[PublishedResealer(home)])
    assert publish(home, ready) == 3

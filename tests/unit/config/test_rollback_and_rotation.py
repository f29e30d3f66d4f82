"""Rotation and publish exclude each other, a damaged version never blocks rotation, and rollbacks of
the published directory or the vault are detected (issue #14, cases 6, 7 and the 7-digit names of 9)."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Sequence
from pathlib import Path

import pytest
from pydantic import SecretStr

from router.config import PublishedResealer, load_published, publish, published_path
from router.config.published import published_versions
from router.errors import PublishedConfigError, VaultCorruptError
from router.home import Home
from router.service.reload import ConfigWatcher, ReloadKind
from router.service.service import load_running_config
from router.vault import PasswordCredential, Vault, VaultKey, load_key, rotate_key, write_new_key_file
from router.vault.rotate import Rewriter

CANARY = "canary-Rollback-7c1a"


@pytest.fixture
def ready(home: Home, profiles_dir: Path) -> Path:
    write_new_key_file(home.key_file, VaultKey.generate())
    Vault.open(home).set("svc", PasswordCredential(username="svc", password=SecretStr(CANARY)))
    return profiles_dir


class _Paused:
    """A re-sealable that holds the rotation mid-way (key.next written, files not yet re-sealed)."""

    def __init__(self) -> None:
        self.reached = threading.Event()
        self.go_on = threading.Event()

    def prepare_reseal(self, keys: Sequence[VaultKey]) -> Rewriter:
        def rewrite(_new: VaultKey) -> None:
            self.reached.set()
            assert self.go_on.wait(60)
        return rewrite


def test_a_publish_during_a_rotation_waits_and_is_sealed_with_the_new_key(home: Home, ready: Path) -> None:
    publish(home, ready)
    paused = _Paused()
    rotation = threading.Thread(target=rotate_key, args=(home,),
                                kwargs={"also": [PublishedResealer(home), paused]})
    rotation.start()
    assert paused.reached.wait(60)
    published: list[int] = []
    publishing = threading.Thread(target=lambda: published.append(publish(home, ready)))
    publishing.start()
    publishing.join(0.5)
    assert publishing.is_alive() and published == []  # It waits for the rotation to finish.
    paused.go_on.set()
    rotation.join(60)
    publishing.join(60)
    assert published == [2]
    key = load_key(home)
    assert [load_published(home, v, key=key).version for v in published_versions(home)] == [1, 2]
    rotate_key(home, also=[PublishedResealer(home)])  # And the next rotation is not stuck.


def test_a_deleted_newest_version_is_refused_and_its_number_never_reused(home: Home, ready: Path) -> None:
    assert [publish(home, ready) for _ in range(3)] == [1, 2, 3]
    applied: list[int] = []
    watcher = ConfigWatcher(home, lambda config: applied.append(config.version), current=3)
    published_path(home, 3).unlink()
    with pytest.raises(PublishedConfigError, match="version 3 is gone"):
        load_running_config(home)
    outcome = watcher.check()
    assert outcome.kind is ReloadKind.REFUSED and applied == [] and watcher.current == 3
    assert publish(home, ready) == 4
    assert watcher.check().kind is ReloadKind.APPLIED and applied == [4]
    assert load_running_config(home).version == 4


def test_an_older_vault_copied_back_is_refused(home: Home, ready: Path) -> None:
    saved = home.root / "vault.old"
    shutil.copy2(home.vault_file, saved)
    Vault.open(home).set("svc", PasswordCredential(username="svc", password=SecretStr("rotated-pw-2")))
    shutil.copy2(saved, home.vault_file)
    with pytest.raises(VaultCorruptError, match="older copy of the vault") as caught:
        Vault.open(home)
    assert CANARY not in str(caught.value)
    with pytest.raises(VaultCorruptError):
        publish(home, ready)


def test_only_canonical_version_names_are_listed(home: Home, ready: Path) -> None:
    publish(home, ready)
    shutil.copy2(published_path(home, 1), home.published_dir / "v0000001.json")
    assert published_versions(home) == [1]
    assert published_path(home, 1234567).name == "v1234567.json"
    shutil.copy2(published_path(home, 1), published_path(home, 1234567))
    assert published_versions(home) == [1, 1234567]

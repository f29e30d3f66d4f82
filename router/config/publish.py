"""Publishing: validate the profiles, snapshot them with their credentials, write the next version.

A version is written complete to a temp file, fsynced, and linked into place under a name nobody else
can take, so the service never sees a half-written version and two concurrent publishes get distinct
numbers. Rollback publishes an old version's content again as the newest version, so "the highest
number runs" stays true and the service picks the rollback up like any publish.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from router.clock import Clock, SystemClock
from router.config.loader import load_profiles
from router.config.profileset import ProfileSet
from router.config.published import (
    CREDENTIALS_PURPOSE,
    MAC_PURPOSE,
    PUBLISHED_FORMAT,
    PUBLISHED_FORMAT_VERSION,
    PublishedConfig,
    credentials_header,
    latest_version,
    load_published,
    published_path,
    published_versions,
)
from router.errors import PublishedConfigError, RouterError
from router.home import Home
from router.vault.atomic import create_exclusive, ensure_private_dir, os_errors_as, write_atomic
from router.vault.credentials import Credential, to_plain
from router.vault.generation import raise_generation, read_generation
from router.vault.key import VaultKey, load_key
from router.vault.rotate import Rewriter, pick_key
from router.vault.sealing import seal, tag
from router.vault.store import Vault, vault_lock

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Snapshot:
    """Everything one published version holds, before it is sealed."""

    profiles: ProfileSet
    credentials: dict[str, Credential]
    source: str
    rolled_back_from: int | None = None


def publish(home: Home, profiles_dir: str | Path, *, key: VaultKey | None = None,
            clock: Clock | None = None) -> int:
    """Validate ``profiles_dir`` against the vault and publish it as the next version; return its number.

    Holds the vault lock throughout, so a publish and a key rotation never interleave: a version is
    sealed with the key the home has when it is written, never with a key being retired.
    """
    if key is None and not home.root.is_dir():
        load_key(home)  # A missing home gets "run init", not a lock file.
    with vault_lock(home.vault_file):
        key = key or load_key(home)
        vault = Vault.open(home, key)
        profiles = load_profiles(profiles_dir, credentials=vault.kinds())
        credentials = {name: vault.get(name) for name in sorted(profiles.credential_names())}
        source = str(Path(profiles_dir).resolve())
        return write_next_version(home, key, Snapshot(profiles, credentials, source), clock or SystemClock())


def rollback(home: Home, version: int, *, key: VaultKey | None = None, clock: Clock | None = None) -> int:
    """Publish the content of ``version`` again as the newest version; return the new number."""
    if key is None and not home.root.is_dir():
        load_key(home)  # A missing home gets "run init", not a lock file.
    with vault_lock(home.vault_file):
        key = key or load_key(home)
        old = load_published(home, version, key=key)
        credentials = {name: old.credential(name) for name in old.credential_kinds}
        snapshot = Snapshot(old.profiles, credentials, old.source, rolled_back_from=version)
        return write_next_version(home, key, snapshot, clock or SystemClock())


def write_next_version(home: Home, key: VaultKey, snapshot: Snapshot, clock: Clock) -> int:
    """Seal ``snapshot`` as the next free version number and return it."""
    with os_errors_as(PublishedConfigError, home.published_dir, "write a published configuration"):
        ensure_private_dir(home.published_dir)
        return _write_free_version(home, key, snapshot, clock)


def _write_free_version(home: Home, key: VaultKey, snapshot: Snapshot, clock: Clock) -> int:
    # Above both what is on disk and what was ever recorded: a deleted version's number is not reused.
    version = max(latest_version(home) or 0, read_generation(home.root).published) + 1
    while True:
        data = _encode(seal_document(key, version, snapshot, clock.now().isoformat()))
        if create_exclusive(published_path(home, version), data):
            raise_generation(home.root, published=version)
            log.debug("published version %d from %s (%d credentials)", version, snapshot.source,
                      len(snapshot.credentials))
            return version
        version += 1


def seal_document(key: VaultKey, version: int, snapshot: Snapshot, published_at: str) -> dict[str, Any]:
    """Build the JSON document of one version: content, sealed credentials, integrity tag."""
    plain = {name: to_plain(cred) for name, cred in sorted(snapshot.credentials.items())}
    sealed = seal(key, CREDENTIALS_PURPOSE, json.dumps(plain).encode("utf-8"),
                  credentials_header(version, key.key_id))
    document: dict[str, Any] = {
        "format": PUBLISHED_FORMAT, "format_version": PUBLISHED_FORMAT_VERSION, "version": version,
        "published_at": published_at, "source": snapshot.source,
        "rolled_back_from": snapshot.rolled_back_from, "key_id": key.key_id,
        "config": snapshot.profiles.model_dump(mode="json"),
        "credential_kinds": {name: cred.kind.value for name, cred in sorted(snapshot.credentials.items())},
        "credentials": sealed.as_json(),
    }
    document["mac"] = tag(key, MAC_PURPOSE, document)
    return document


@dataclass(frozen=True)
class PublishedSummary:
    """One line of `published list`: a verified version, or why it cannot be used."""

    version: int
    published_at: str
    source: str
    rolled_back_from: int | None
    mailboxes: int
    problem: str | None = None


def list_published(home: Home, *, key: VaultKey | None = None) -> list[PublishedSummary]:
    """Every published version, oldest first, each verified; broken ones carry their problem."""
    key = key or load_key(home)
    return [_summary(home, version, key) for version in published_versions(home)]


def _summary(home: Home, version: int, key: VaultKey) -> PublishedSummary:
    try:
        config = load_published(home, version, key=key)
    except RouterError as exc:
        return PublishedSummary(version, "?", "?", None, 0, problem=exc.message)
    return PublishedSummary(version, config.published_at.isoformat(timespec="seconds"), config.source,
                            config.rolled_back_from, len(config.profiles.mailboxes()))


class PublishedResealer:
    """Re-seals every published version during key rotation (see ``router.vault.rotate``).

    A version that neither key opens (damaged, or sealed with a key retired earlier) cannot be
    re-sealed: it is skipped, left as it is, and listed in ``skipped`` with the reason, so one bad old
    version never blocks a rotation.
    """

    def __init__(self, home: Home) -> None:
        self.home = home
        self.skipped: list[str] = []

    def prepare_reseal(self, keys: Sequence[VaultKey]) -> Rewriter:
        """Verify every version with the key it names; return a writer sealing them with the new key."""
        loaded = []
        for version in published_versions(self.home):
            try:
                loaded.append(self._load(version, keys))
            except RouterError as exc:
                self.skipped.append(f"{published_path(self.home, version)}: {exc.message}")
                log.warning("published version %d cannot be re-sealed and is left as it is: %s", version,
                            exc.message)

        def rewrite(new_key: VaultKey) -> None:
            for config, snapshot in loaded:
                document = seal_document(new_key, config.version, snapshot, config.published_at.isoformat())
                with os_errors_as(PublishedConfigError, config.path, "re-seal a published configuration"):
                    write_atomic(config.path, _encode(document))

        return rewrite

    def _load(self, version: int, keys: Sequence[VaultKey]) -> tuple[PublishedConfig, Snapshot]:
        key_id = _claimed_key_id(published_path(self.home, version))
        config = load_published(self.home, version, key=pick_key(key_id, keys))
        credentials = {name: config.credential(name) for name in config.credential_kinds}
        return config, Snapshot(config.profiles, credentials, config.source, config.rolled_back_from)


def _claimed_key_id(path: Path) -> str | None:
    try:
        document = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
    return document.get("key_id") if isinstance(document, dict) else None


def _encode(document: dict[str, Any]) -> bytes:
    return (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode("utf-8")

"""The credentials vault: one AES-GCM sealed JSON file in the home directory (``vault.json``).

The whole credential set is encrypted as one block whose header (format, version, key id) is bound as
associated data, so a wrong key, a tampered byte or a truncated file is detected before any credential is
returned. Every change is written atomically with mode 0600.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from router.clock import Clock, SystemClock
from router.errors import CredentialNotFoundError, VaultCorruptError, VaultError, WrongKeyError
from router.home import Home
from router.vault.atomic import PRIVATE_FILE_MODE, ensure_private_dir, os_errors_as, write_atomic
from router.vault.credentials import CREDENTIAL_ADAPTER, Credential, CredentialKind, to_plain
from router.vault.generation import raise_generation, read_generation, record_path
from router.vault.key import VaultKey, load_key
from router.vault.names import check_credential_name
from router.vault.sealing import SealBroken, Sealed, seal, unseal

log = logging.getLogger(__name__)

VAULT_FORMAT = "email-router-vault"
VAULT_FORMAT_VERSION = 1
VAULT_PURPOSE = "vault"


@dataclass(frozen=True)
class CredentialInfo:
    """What may be shown about a credential: its name, kind and when it was set. Never a value."""

    name: str
    kind: CredentialKind
    updated_at: datetime | None


class Vault:
    """The credentials of one home, decrypted in memory; ``set`` and ``delete`` save at once."""

    def __init__(self, path: Path, key: VaultKey, credentials: dict[str, Credential],
                 clock: Clock | None = None) -> None:
        self.path = path
        self._key = key
        self._credentials = dict(credentials)
        self._clock = clock or SystemClock()

    @classmethod
    def open(cls, home: Home, key: VaultKey | None = None, *, clock: Clock | None = None) -> Vault:
        """Open the vault of ``home`` with ``key`` (default: the home key); a missing vault is empty."""
        key = key or load_key(home)
        return cls(home.vault_file, key, read_vault_file(home.vault_file, key), clock)

    def __repr__(self) -> str:
        return f"Vault(path={str(self.path)!r}, credentials={sorted(self._credentials)!r})"

    def names(self) -> list[str]:
        """Return the credential names, sorted."""
        return sorted(self._credentials)

    def kinds(self) -> dict[str, CredentialKind]:
        """Return each credential's kind, for validating the profiles that name them."""
        return {name: cred.kind for name, cred in self._credentials.items()}

    def info(self) -> list[CredentialInfo]:
        """Return what may be shown about each credential, sorted by name."""
        return [CredentialInfo(n, c.kind, c.updated_at) for n, c in sorted(self._credentials.items())]

    def get(self, name: str) -> Credential:
        """Return the credential called ``name``, or raise ``CredentialNotFoundError``."""
        try:
            return self._credentials[name]
        except KeyError:
            raise CredentialNotFoundError(
                f"no credential named {name!r} in the vault", path=str(self.path),
                hint=f"run `email-router credentials set {name}`",
            ) from None

    def set(self, name: str, credential: Credential) -> None:
        """Store (or replace) ``credential`` under ``name`` and save the vault."""
        check_credential_name(name)
        stamped = credential.model_copy(update={"updated_at": self._clock.now()})
        with self._update():
            self._credentials[name] = stamped
        log.debug("credential %r (%s) stored in %s", name, stamped.kind.value, self.path)

    def delete(self, name: str) -> None:
        """Remove the credential ``name`` and save the vault; raise if it does not exist."""
        with self._update():
            self.get(name)
            del self._credentials[name]
        log.debug("credential %r deleted from %s", name, self.path)

    @contextlib.contextmanager
    def _update(self) -> Iterator[None]:
        """Re-read, change and save under the vault lock, so concurrent commands lose no update."""
        with vault_lock(self.path):
            self._credentials = read_vault_file(self.path, self._key)
            yield
            self.save()

    def save(self) -> None:
        """Write the vault atomically, sealed with this vault's key."""
        write_vault_file(self.path, self._key, self._credentials)


@contextlib.contextmanager
def vault_lock(path: Path) -> Iterator[None]:
    """Hold the exclusive lock of the vault at ``path`` (a ``.lock`` file beside it) while inside."""
    lock_path = path.with_name(path.name + ".lock")
    with os_errors_as(VaultError, lock_path, "lock the vault"):
        ensure_private_dir(lock_path.parent)
        lock = os.open(lock_path, os.O_RDWR | os.O_CREAT, PRIVATE_FILE_MODE)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield
    finally:
        os.close(lock)


def vault_header(key_id: str) -> dict[str, Any]:
    """The authenticated header of a vault file sealed with the key ``key_id``."""
    return {"format": VAULT_FORMAT, "format_version": VAULT_FORMAT_VERSION, "key_id": key_id}


def write_vault_file(path: Path, key: VaultKey, credentials: dict[str, Credential]) -> None:
    """Seal ``credentials`` with ``key`` and write them to ``path`` atomically (mode 0600).

    Each write seals the next generation number with the credentials and then records it
    (``router.vault.generation``), so an older copy of the vault put back later is recognised.
    """
    header = vault_header(key.key_id)
    generation = read_generation(path.parent).vault + 1
    plain = {name: to_plain(cred) for name, cred in sorted(credentials.items())}
    payload = json.dumps({"credentials": plain, "generation": generation}).encode("utf-8")
    sealed = seal(key, VAULT_PURPOSE, payload, header)
    document = {**header, "sealed": sealed.as_json()}
    with os_errors_as(VaultError, path, "write the vault"):
        write_atomic(path, (json.dumps(document, indent=2) + "\n").encode("utf-8"))
    raise_generation(path.parent, vault=generation)


def read_vault_file(path: Path, key: VaultKey) -> dict[str, Credential]:
    """Return the credentials in ``path`` (none if the file does not exist yet)."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise VaultError(f"cannot read the vault ({type(exc).__name__})", path=str(path),
                         hint="make the file readable by the account that runs email-router") from exc
    document = _parse_document(raw, path)
    if document["key_id"] != key.key_id:
        raise WrongKeyError(
            f"the vault was written with another key (key id {document['key_id']}, "
            f"this key {key.key_id} from {key.source})", path=str(path),
            hint="use the key this vault was written with (key file or EMAIL_ROUTER_KEY); "
            "after `credentials rotate-key` only the new key opens it",
        )
    try:
        plain = json.loads(unseal(key, VAULT_PURPOSE, Sealed.from_json(document["sealed"]),
                                  vault_header(key.key_id)))
        credentials = _parse_credentials(plain)
    except (SealBroken, ValueError, ValidationError) as exc:
        raise _corrupt(path, "it fails authentication: it was altered or truncated") from exc
    _check_generation(path, plain.get("generation", 0))
    return credentials


def _check_generation(path: Path, generation: object) -> None:
    """Refuse a vault older than the newest one this home wrote (an old copy put back)."""
    recorded = read_generation(path.parent).vault
    if isinstance(generation, int) and generation >= recorded:
        return
    raise VaultCorruptError(
        f"this is an older copy of the vault (generation {generation}; generation {recorded} was written "
        "since): old or revoked credentials would come back", path=str(path),
        hint="put the newest vault.json back. If this older copy is really wanted, set each credential "
        f"again with `email-router credentials set` after removing {record_path(path.parent)}")


def vault_key_id(path: Path) -> str | None:
    """Return the key id a vault file claims to be sealed with, or None when there is no vault."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    return str(_parse_document(raw, path)["key_id"])


def _parse_document(raw: bytes, path: Path) -> dict[str, Any]:
    try:
        document = json.loads(raw)
    except ValueError as exc:
        raise _corrupt(path, "it is not valid JSON (truncated or edited)") from exc
    expected = {"format", "format_version", "key_id", "sealed"}
    if not isinstance(document, dict) or set(document) != expected:
        raise _corrupt(path, "its fields are not those of an email-router vault")
    if document["format"] != VAULT_FORMAT or document["format_version"] != VAULT_FORMAT_VERSION:
        raise _corrupt(path, "it is not an email-router vault of a format this version reads")
    if not isinstance(document["key_id"], str):
        raise _corrupt(path, "its key id is not text")
    return document


def _parse_credentials(data: object) -> dict[str, Credential]:
    if not isinstance(data, dict) or not isinstance(data.get("credentials"), dict):
        raise ValueError("vault payload has no credentials table")
    return {str(name): CREDENTIAL_ADAPTER.validate_python(value)
            for name, value in data["credentials"].items()}


def _corrupt(path: Path, why: str) -> VaultCorruptError:
    return VaultCorruptError(
        f"the vault cannot be trusted: {why}", path=str(path),
        hint="restore vault.json from a backup made with the same key, or delete it and run "
        "`email-router credentials set NAME` for each credential again",
    )

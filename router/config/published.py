"""Published configurations: numbered, sealed snapshots of a validated profile set and its credentials.

Layout: ``<home>/published/v000001.json``, ``v000002.json``, ... The highest number is the one the
service runs. Each file is JSON whose fields are covered by an HMAC (key derived from the home key), and
whose credentials are AES-GCM sealed, so a hand-edited or damaged file is refused and secrets are never
readable in it. ``latest_version`` only lists the directory: cheap enough for the service to poll.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from router.config.profileset import ProfileSet
from router.errors import CredentialNotFoundError, PublishedConfigError, WrongKeyError
from router.home import Home
from router.vault.credentials import CREDENTIAL_ADAPTER, Credential, CredentialKind, secret_values
from router.vault.generation import read_generation
from router.vault.key import VaultKey, load_key
from router.vault.sealing import SealBroken, Sealed, check_tag, unseal

PUBLISHED_FORMAT = "email-router-published"
PUBLISHED_FORMAT_VERSION = 1
MAC_PURPOSE = "published-mac"
CREDENTIALS_PURPOSE = "published-credentials"
_FILE = re.compile(r"^v(\d{6}|[1-9]\d{6,})\.json$")
"""``v`` and six digits or more, no extra leading zero: exactly the names ``published_path`` gives."""
_FIELDS = {"format", "format_version", "version", "published_at", "source", "rolled_back_from", "key_id",
           "config", "credential_kinds", "credentials", "mac"}
_KINDS: TypeAdapter[dict[str, CredentialKind]] = TypeAdapter(dict[str, CredentialKind])


def published_path(home: Home, version: int) -> Path:
    """The file of published version ``version``."""
    return home.published_dir / f"v{version:06d}.json"


def published_versions(home: Home) -> list[int]:
    """Every published version number, ascending (no file is opened)."""
    if not home.published_dir.is_dir():
        return []
    found = (_FILE.match(p.name) for p in home.published_dir.iterdir())
    return sorted(int(m.group(1)) for m in found if m)


def latest_version(home: Home) -> int | None:
    """The newest published version, or None; the service polls this to notice a new publish."""
    versions = published_versions(home)
    return versions[-1] if versions else None


def missing_newest(home: Home) -> int | None:
    """The recorded highest version when it is no longer on disk (deleted or rolled back), else None."""
    recorded = read_generation(home.root).published
    return recorded if recorded > (latest_version(home) or 0) else None


def rolled_back_error(home: Home, recorded: int) -> PublishedConfigError:
    """The error for a published directory whose newest version disappeared."""
    return PublishedConfigError(
        f"published version {recorded} is gone (the newest on disk is {latest_version(home)}): an older "
        "configuration must not take over silently", path=str(published_path(home, recorded)),
        hint="restore the file, or publish again (or `email-router published rollback N`), which records "
        "a new, higher version")


def credentials_header(version: int, key_id: str) -> dict[str, Any]:
    """Associated data of a version's sealed credentials: a block cannot be moved to another version."""
    return {"format": PUBLISHED_FORMAT, "version": version, "key_id": key_id}


@dataclass
class PublishedConfig:
    """One verified published configuration: the models to run, and its credentials on request."""

    version: int
    published_at: datetime
    source: str
    rolled_back_from: int | None
    profiles: ProfileSet
    credential_kinds: dict[str, CredentialKind]
    path: Path
    _key: VaultKey = field(repr=False)
    _sealed: Sealed = field(repr=False)
    _cache: dict[str, Credential] | None = field(default=None, repr=False)

    def credential(self, name: str) -> Credential:
        """Return the decrypted credential ``name`` as published (secrets stay ``SecretStr``)."""
        credentials = self._credentials()
        if name not in credentials:
            raise CredentialNotFoundError(
                f"published version {self.version} carries no credential named {name!r}",
                path=str(self.path),
                hint=f"run `email-router credentials set {name}`, reference it in a profile, "
                "and publish again")
        return credentials[name]

    def secret_values(self) -> list[str]:
        """Every secret in this configuration, for ``SecretRedactor.add`` before the service logs."""
        return [value for cred in self._credentials().values() for value in secret_values(cred)]

    def _credentials(self) -> dict[str, Credential]:
        if self._cache is None:
            self._cache = open_credentials(self.path, self._key, self._sealed, self.version)
        return self._cache


def load_published(home: Home, version: int | None = None, *, key: VaultKey | None = None) -> PublishedConfig:
    """Load and verify a published version (the latest by default); refuse edited or damaged files."""
    chosen = latest_version(home) if version is None else version
    if chosen is None:
        raise PublishedConfigError("nothing has been published yet", path=str(home.published_dir),
                                   hint="run `email-router publish [PROFILES_DIR]`")
    path = published_path(home, chosen)
    document = read_document(path, home)
    key = key or load_key(home)
    verify_document(document, path, key, chosen)
    return _config_from(document, path, key)


def read_document(path: Path, home: Home) -> dict[str, Any]:
    """Read a published file's JSON and check it has exactly the expected fields."""
    try:
        document = json.loads(path.read_bytes())
    except FileNotFoundError as exc:
        known = ", ".join(map(str, published_versions(home))) or "none"
        raise PublishedConfigError(f"no such published version (published: {known})", path=str(path),
                                   hint="see `email-router published list`") from exc
    except (OSError, ValueError) as exc:
        raise tampered(path, "it is not readable JSON") from exc
    if not isinstance(document, dict) or set(document) != _FIELDS:
        raise tampered(path, "its fields are not those of a published configuration")
    return document


def verify_document(document: dict[str, Any], path: Path, key: VaultKey, version: int) -> None:
    """Check format, key, version and integrity tag of a published file."""
    if (document["format"], document["format_version"]) != (PUBLISHED_FORMAT, PUBLISHED_FORMAT_VERSION):
        raise tampered(path, "it is not a published configuration of a format this version reads")
    if document["key_id"] != key.key_id:
        raise WrongKeyError(
            f"published version {version} was sealed with another key (key id {document['key_id']}, "
            f"this key {key.key_id} from {key.source})", path=str(path),
            hint="use the home key it was published with; after rotate-key, publish again")
    try:
        check_tag(key, MAC_PURPOSE, {k: v for k, v in document.items() if k != "mac"}, document["mac"])
    except SealBroken as exc:
        raise tampered(path, "its integrity check failed: it was edited or damaged after publishing") from exc
    if document["version"] != version:
        raise tampered(path, f"it claims version {document['version']} but is stored as version {version}")


def open_credentials(path: Path, key: VaultKey, sealed: Sealed, version: int) -> dict[str, Credential]:
    """Decrypt the credentials block of a verified published file."""
    try:
        plain = json.loads(unseal(key, CREDENTIALS_PURPOSE, sealed, credentials_header(version, key.key_id)))
        return {str(n): CREDENTIAL_ADAPTER.validate_python(v) for n, v in plain.items()}
    except (SealBroken, ValueError, ValidationError, AttributeError) as exc:
        raise tampered(path, "its sealed credentials fail authentication") from exc


def _config_from(document: dict[str, Any], path: Path, key: VaultKey) -> PublishedConfig:
    try:
        return PublishedConfig(
            version=int(document["version"]), published_at=datetime.fromisoformat(document["published_at"]),
            source=str(document["source"]), rolled_back_from=document["rolled_back_from"],
            profiles=ProfileSet.model_validate(document["config"]),
            credential_kinds=_KINDS.validate_python(document["credential_kinds"]),
            path=path, _key=key, _sealed=Sealed.from_json(document["credentials"]))
    except (ValueError, TypeError, ValidationError, SealBroken) as exc:
        raise tampered(path, "its content does not match this version's configuration models") from exc


def tampered(path: Path, why: str) -> PublishedConfigError:
    """The error for a published file that cannot be trusted."""
    return PublishedConfigError(
        f"published configuration refused: {why}", path=str(path),
        hint="never edit published files: change the profiles and run `email-router publish`, or "
        "`email-router published rollback VERSION` to a good version")

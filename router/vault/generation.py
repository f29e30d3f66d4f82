"""The home's monotonic record: the highest published version and vault generation ever written.

``<home>/generation.json`` only ever grows. It makes two kinds of rollback visible:

* a published file deleted (or the directory restored from an old backup): the newest version on disk
  is below the recorded highest, so the service refuses to fall back to an older configuration, and
  the next publish takes a number above the recorded one — a number is never used twice;
* an older ``vault.json`` copied back: the vault's sealed generation is below the recorded one, so it
  is refused instead of silently bringing back old or revoked credentials.

Each write happens after the file it records (the version or the vault), so a crash in between
leaves the record behind the files, which is never mistaken for a rollback. The record detects
mistakes and restores of one file; whoever rewrites both the record and the files can roll back
both, which only an outside monotonic store could catch.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from router.errors import VaultCorruptError
from router.vault.atomic import PRIVATE_FILE_MODE, os_errors_as

RECORD_NAME = "generation.json"


@dataclass(frozen=True)
class Generation:
    """The highest published version number and vault generation this home has written."""

    published: int = 0
    vault: int = 0


def record_path(root: Path) -> Path:
    """The record of the home at ``root``."""
    return root / RECORD_NAME


def read_generation(root: Path) -> Generation:
    """The recorded generation (zeros when nothing was recorded yet); a damaged record is an error."""
    path = record_path(root)
    try:
        data = json.loads(path.read_bytes())
        return Generation(published=_count(data, "published"), vault=_count(data, "vault"))
    except FileNotFoundError:
        return Generation()
    except (OSError, ValueError, TypeError) as exc:
        raise VaultCorruptError(
            f"the generation record cannot be read ({type(exc).__name__})", path=str(path),
            hint="restore it from a backup; deleting it turns rollback detection off until the next "
            "publish and credential change record it again") from exc


def raise_generation(root: Path, *, published: int | None = None, vault: int | None = None) -> Generation:
    """Record ``published`` / ``vault`` when they exceed what is recorded; the record never goes down."""
    current = read_generation(root)
    new = Generation(published=max(current.published, published or 0), vault=max(current.vault, vault or 0))
    if new != current:
        path = record_path(root)
        with os_errors_as(VaultCorruptError, path, "write the generation record"):
            _replace(path, (json.dumps({"published": new.published, "vault": new.vault}) + "\n").encode())
    return new


def _replace(path: Path, data: bytes) -> None:
    # Atomic but not fsynced: a record lost in a power cut is merely behind the files, which is never
    # taken for a rollback, and skipping the flush keeps a publish's last step short.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE_MODE)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.replace(tmp, path)


def _count(data: object, key: str) -> int:
    if not isinstance(data, dict):
        raise TypeError("not a JSON object")
    value = data.get(key, 0)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{key} is not a count")
    return value

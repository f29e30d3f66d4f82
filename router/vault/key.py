"""The home key: one 256-bit secret from which every encryption and integrity key is derived.

The key lives in ``<home>/key`` (created 0600; a key file that group or others may read is refused) or,
for deployments that keep secrets elsewhere, in the ``EMAIL_ROUTER_KEY`` environment variable, which
wins over the file. Its text form is ``email-router-key-1:`` followed by 32 bytes in URL-safe base64.

Purpose keys are derived with HKDF, so the vault and the published configurations never share a key,
and ``key_id`` (a one-way fingerprint) tells "wrong key" apart from "tampered file".
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets
import stat
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from router.errors import KeyFileError
from router.home import Home
from router.vault.atomic import create_exclusive, os_errors_as

ENV_KEY = "EMAIL_ROUTER_KEY"
KEY_PREFIX = "email-router-key-1:"
KEY_BYTES = 32


@dataclass(frozen=True)
class VaultKey:
    """The home key. Its bytes never appear in ``repr``; ``source`` says where it was read from."""

    secret: bytes = field(repr=False)
    source: str = "generated"

    @classmethod
    def generate(cls) -> VaultKey:
        """Return a fresh random key."""
        return cls(secrets.token_bytes(KEY_BYTES))

    @property
    def key_id(self) -> str:
        """A one-way fingerprint naming this key in the files it protects (reveals nothing of it)."""
        return hmac.new(self.secret, b"email-router key id", hashlib.sha256).hexdigest()[:16]

    def derive(self, purpose: str) -> bytes:
        """Return a 256-bit key for one purpose (``vault``, ``publish-mac``, ...), independent of others."""
        hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                    info=f"email-router/{purpose}".encode())
        return hkdf.derive(self.secret)

    def to_text(self) -> str:
        """Return the text form written to the key file or exported as ``EMAIL_ROUTER_KEY``."""
        return KEY_PREFIX + base64.urlsafe_b64encode(self.secret).decode("ascii")


def parse_key(text: str, *, source: str) -> VaultKey:
    """Parse the text form of a key; ``source`` names the file or variable for the error message."""
    body = text.strip().removeprefix(KEY_PREFIX)
    try:
        raw = base64.urlsafe_b64decode(body.encode("ascii"))
    except (binascii.Error, UnicodeEncodeError, ValueError) as exc:
        raise _malformed(source) from exc
    if len(raw) != KEY_BYTES:
        raise _malformed(source)
    return VaultKey(raw, source=source)


def pending_key_file(home: Home) -> Path:
    """Where ``rotate-key`` keeps the new key until every file has been re-encrypted with it."""
    return home.key_file.with_name(home.key_file.name + ".next")


def load_key(home: Home) -> VaultKey:
    """Return the home key from ``EMAIL_ROUTER_KEY`` or the key file, checking the file's permissions."""
    env = os.environ.get(ENV_KEY, "").strip()
    if env:
        return parse_key(env, source=f"${ENV_KEY}")
    if pending_key_file(home).exists():
        raise KeyFileError(
            "a key rotation was interrupted: some files may already use the new key",
            path=str(pending_key_file(home)),
            hint="run `email-router credentials rotate-key` again to finish it",
        )
    return read_key_file(home.key_file)


def read_key_file(path: Path) -> VaultKey:
    """Read a key file, refusing one that group or others could read or write."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
        text = path.read_text(encoding="ascii")
    except FileNotFoundError as exc:
        raise KeyFileError(
            "no key file in the home directory", path=str(path),
            hint=f"run `email-router init` to create the home and its key, or set {ENV_KEY}",
        ) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise KeyFileError(
            f"cannot read the key file ({type(exc).__name__})", path=str(path),
            hint="make the file readable by the account that runs email-router (mode 0600)",
        ) from exc
    if mode & 0o077:
        raise KeyFileError(
            f"the key file is accessible to group or others (mode {mode:04o})", path=str(path),
            hint=f"run `chmod 600 {path}`; if others may have read it, run "
            "`email-router credentials rotate-key` afterwards",
        )
    return parse_key(text, source=str(path))


def write_new_key_file(path: Path, key: VaultKey) -> None:
    """Write ``key`` to a new file with mode 0600; refuse to overwrite an existing key."""
    with os_errors_as(KeyFileError, path, "write the key file"):
        created = create_exclusive(path, (key.to_text() + "\n").encode("ascii"))
    if not created:
        raise KeyFileError(
            "a key file already exists", path=str(path),
            hint="keep it: it opens the existing vault. To replace it, run "
            "`email-router credentials rotate-key`",
        )


def _malformed(source: str) -> KeyFileError:
    return KeyFileError(
        f"the key is malformed: expected {KEY_PREFIX} followed by {KEY_BYTES} bytes in URL-safe base64",
        path=source,
        hint="restore the key from your backup; without it the vault cannot be opened",
    )

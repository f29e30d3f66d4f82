"""Authenticated encryption and integrity tags for the router's files, with keys derived from the home key.

``seal`` / ``unseal`` use AES-256-GCM: any change to the ciphertext or its associated data (the file
header) makes ``unseal`` fail, so a tampered or truncated file never yields partial data. ``tag`` /
``check_tag`` compute an HMAC-SHA256 over canonical JSON for files whose content stays readable.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from router.vault.key import VaultKey

NONCE_BYTES = 12


class SealBroken(Exception):
    """Internal signal: authentication failed or the sealed fields are malformed.

    Callers turn it into ``VaultCorruptError`` or ``PublishedConfigError`` naming their file.
    """


@dataclass(frozen=True)
class Sealed:
    """A nonce and ciphertext, both URL-safe base64, as stored in JSON files."""

    nonce: str
    ciphertext: str

    def as_json(self) -> dict[str, str]:
        return {"nonce": self.nonce, "ciphertext": self.ciphertext}

    @classmethod
    def from_json(cls, data: object) -> Sealed:
        """Read the stored form; anything else is a broken seal."""
        if not isinstance(data, dict) or set(data) != {"nonce", "ciphertext"}:
            raise SealBroken("sealed block must hold exactly nonce and ciphertext")
        nonce, ciphertext = data["nonce"], data["ciphertext"]
        if not isinstance(nonce, str) or not isinstance(ciphertext, str):
            raise SealBroken("nonce and ciphertext must be strings")
        return cls(nonce, ciphertext)


def canonical_json(value: object) -> bytes:
    """Serialise ``value`` the same way every time, so a tag computed on it is reproducible."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def seal(key: VaultKey, purpose: str, plaintext: bytes, header: object) -> Sealed:
    """Encrypt ``plaintext`` under the ``purpose`` key, binding ``header`` as associated data."""
    nonce = os.urandom(NONCE_BYTES)
    ciphertext = AESGCM(key.derive(purpose)).encrypt(nonce, plaintext, canonical_json(header))
    return Sealed(_b64(nonce), _b64(ciphertext))


def unseal(key: VaultKey, purpose: str, sealed: Sealed, header: object) -> bytes:
    """Decrypt and authenticate; raise ``SealBroken`` if anything was altered or cut short."""
    try:
        nonce, ciphertext = _unb64(sealed.nonce), _unb64(sealed.ciphertext)
        if len(nonce) != NONCE_BYTES:
            raise SealBroken("nonce has the wrong length")
        return AESGCM(key.derive(purpose)).decrypt(nonce, ciphertext, canonical_json(header))
    except (InvalidTag, binascii.Error, ValueError) as exc:
        raise SealBroken("authentication failed") from exc


def tag(key: VaultKey, purpose: str, value: object) -> str:
    """Return the hex HMAC-SHA256 of ``value`` (canonical JSON) under the ``purpose`` key."""
    return hmac.new(key.derive(purpose), canonical_json(value), hashlib.sha256).hexdigest()


def check_tag(key: VaultKey, purpose: str, value: object, expected: object) -> None:
    """Raise ``SealBroken`` unless ``expected`` is the tag of ``value``."""
    if not isinstance(expected, str) or not hmac.compare_digest(tag(key, purpose, value), expected):
        raise SealBroken("integrity tag does not match")


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text.encode("ascii"))

"""The console's admin password: a scrypt hash (cryptography) kept in the vault, never the password.

The hash is stored as a vault credential of kind ``password`` under the reserved name
``CONSOLE_CREDENTIAL`` (user name ``admin``); its "password" field holds the encoded hash
``scrypt$n$r$p$salt$digest``. Keeping it in the vault gives it the vault's encryption, locking and key
rotation; keeping only a slow hash means a stolen vault and key still do not reveal the password.
"""

from __future__ import annotations

import base64
import os

from cryptography.exceptions import InvalidKey
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from pydantic import SecretStr

from router.errors import CredentialNotFoundError, UsageError
from router.home import Home
from router.vault import PasswordCredential, Vault

CONSOLE_CREDENTIAL = "email-router-console"
"""The vault name of the console's password hash."""

CONSOLE_USER = "admin"
MIN_LENGTH = 12
SCRYPT_N, SCRYPT_R, SCRYPT_P, DIGEST_BYTES = 2**15, 8, 1, 32
"""About 50 ms and 32 MiB per attempt: cheap for one admin, expensive for a guesser."""


def hash_password(password: str, *, n: int = SCRYPT_N) -> str:
    """Return the encoded scrypt hash of ``password`` with a fresh random salt."""
    salt = os.urandom(16)
    digest = _kdf(salt, n, SCRYPT_R, SCRYPT_P).derive(password.encode("utf-8"))
    return "$".join(["scrypt", str(n), str(SCRYPT_R), str(SCRYPT_P), _b64(salt), _b64(digest)])


def verify_password(password: str, encoded: str) -> bool:
    """True when ``password`` matches ``encoded`` (a hash from ``hash_password``); False for junk."""
    try:
        scheme, n, r, p, salt, digest = encoded.split("$")
        if scheme != "scrypt":
            return False
        kdf = _kdf(base64.b64decode(salt), int(n), int(r), int(p))
        expected = base64.b64decode(digest)
        kdf.verify(password.encode("utf-8"), expected)  # Constant-time; raises InvalidKey on mismatch.
    except (ValueError, InvalidKey):
        return False
    return True


def check_new_password(password: str) -> None:
    """Refuse a console password that is too short (a UsageError saying what is wanted)."""
    if len(password) < MIN_LENGTH:
        raise UsageError(f"the console password is too short ({len(password)} characters)",
                         hint=f"use at least {MIN_LENGTH} characters, e.g. a passphrase of several words")


def set_console_password(home: Home, password: str) -> None:
    """Store the hash of ``password`` in the home's vault (replacing any earlier one)."""
    check_new_password(password)
    credential = PasswordCredential(username=CONSOLE_USER, password=SecretStr(hash_password(password)))
    Vault.open(home).set(CONSOLE_CREDENTIAL, credential)


def console_password_hash(home: Home) -> str | None:
    """The stored hash, or None when no console password was set (read afresh on every call)."""
    try:
        credential = Vault.open(home).get(CONSOLE_CREDENTIAL)
    except CredentialNotFoundError:
        return None
    if not isinstance(credential, PasswordCredential):
        return None
    return credential.password.get_secret_value()


def _kdf(salt: bytes, n: int, r: int, p: int) -> Scrypt:
    return Scrypt(salt=salt, length=DIGEST_BYTES, n=n, r=r, p=p)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")

"""The rule for credential names, shared by the vault and the profiles that reference credentials."""

from __future__ import annotations

import re

from router.errors import UsageError
from router.vault.credentials import CREDENTIAL_NAME_PATTERN

_NAME = re.compile(CREDENTIAL_NAME_PATTERN)


def is_valid_credential_name(name: str) -> bool:
    """True when ``name`` may name a credential: letters, digits, ``.``, ``_``, ``@``, ``-`` (max 128)."""
    return bool(_NAME.match(name))


def check_credential_name(name: str) -> None:
    """Raise ``UsageError`` for a name the vault will not store."""
    if not is_valid_credential_name(name):
        raise UsageError(
            f"{name!r} is not a valid credential name",
            hint="use letters, digits, '.', '_', '@' or '-', starting with a letter or digit (max 128)",
        )

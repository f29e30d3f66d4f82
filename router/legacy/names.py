"""Names for what the import creates: profiles, deployments and vault credentials.

Profile and deployment names follow the profiles' rule (letters, digits, ``.``, ``_``, ``-``, at most
64 characters, starting with a letter or digit); credential names follow the vault's (the same plus
``@``, at most 128). Legacy names such as ``Exchange incoming`` or ``CONTOSO\\svc-crm`` are folded into
that alphabet, and a ``NameBook`` keeps every name it hands out unique.
"""

from __future__ import annotations

import re

_PROFILE_BAD = re.compile(r"[^A-Za-z0-9._-]+")
_CREDENTIAL_BAD = re.compile(r"[^A-Za-z0-9._@-]+")


def fold(text: str, *, allow_at: bool = False, limit: int = 64) -> str:
    """Return ``text`` folded into a valid name: other characters become ``-``, edges are trimmed."""
    bad = _CREDENTIAL_BAD if allow_at else _PROFILE_BAD
    folded = bad.sub("-", text.strip().replace("\\", ".")).strip("-._@")
    return folded[:limit].rstrip("-._@")


class NameBook:
    """Hands out unique names: the first ``fold`` of a wish, then ``-2``, ``-3``, ... on collision."""

    def __init__(self, *, allow_at: bool = False, limit: int = 64) -> None:
        self.allow_at, self.limit = allow_at, limit
        self.taken: set[str] = set()

    def claim(self, wish: str, fallback: str) -> str:
        """Return a new unique name built from ``wish`` (or ``fallback`` when nothing of it survives)."""
        base = fold(wish, allow_at=self.allow_at, limit=self.limit - 4) or fallback
        name, counter = base, 1
        while name.lower() in self.taken:
            counter += 1
            name = f"{base}-{counter}"
        self.taken.add(name.lower())
        return name

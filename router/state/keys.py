"""How a message is named in the state store: its Internet Message-ID, or a hash when it has none.

The same Message-ID is written in many ways (with or without angle brackets, folded over lines,
padded with spaces); ``normalize_message_id`` gives the one form that is stored and looked up, so
``email-router trace`` finds a message however the admin pastes its id.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

HASH_PREFIX = "sha256:"


def normalize_message_id(value: str | None) -> str | None:
    """Return ``<local@domain>`` for any spelling of a Message-ID, or None when there is none."""
    if value is None:
        return None
    text = "".join(value.split())
    if text.startswith("<") and text.endswith(">"):
        text = text[1:-1]
    text = text.strip("<>")
    return f"<{text}>" if text else None


def derive_message_key(message_id: str | None, fallback: Iterable[bytes | str] = ()) -> str:
    """Return the ledger key of a message: its normalized Message-ID, else a hash of ``fallback``.

    ``fallback`` should be parts that stay the same however often the message is fetched (its raw
    MIME, or sender, date and subject); the hash is prefixed with ``sha256:`` so it can never be
    mistaken for a Message-ID.
    """
    normalized = normalize_message_id(message_id)
    if normalized:
        return normalized
    digest = hashlib.sha256()
    parts = 0
    for part in fallback:
        data = part.encode("utf-8", "surrogateescape") if isinstance(part, str) else part
        digest.update(len(data).to_bytes(8, "big"))
        digest.update(data)
        parts += 1
    if not parts:
        raise ValueError("a message without a Message-ID needs fallback parts to derive its key")
    return HASH_PREFIX + digest.hexdigest()

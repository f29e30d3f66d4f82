"""Message-IDs: the one the router owns for each email it sends, and the ones it copies from parents.

The router generates the Message-ID *before* sending and records it on the CRM email first, so that a
router that dies between submission and "Sent" can look the message up in Sent Items by that ID instead
of sending it twice. ``new_message_id`` makes the ID; the render step takes it as input.

``normalize_message_id`` checks IDs taken from elsewhere (the parent's Message-ID and References) so
that a malformed one is dropped instead of corrupting the In-Reply-To or References header.
"""

from __future__ import annotations

import re
import uuid

from router.errors import MessageError

MAX_MESSAGE_ID_LENGTH = 900
"""Longest ID accepted, so that any header carrying one stays under the 998-character line limit."""

_ID_BODY = re.compile(r"[!-~]+")
_HOST_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")


def new_message_id(domain: str, *, token: uuid.UUID | None = None) -> str:
    """Return a new globally unique Message-ID ``<32 hex digits@domain>``, angle brackets included.

    ``domain`` is normally the sending mailbox's domain (``addresses.domain_of``); a non-ASCII domain
    is converted to IDNA. ``token`` fixes the unique part (tests); by default it is a random UUID.
    """
    host = _ascii_host(domain)
    return f"<{(token or uuid.uuid4()).hex}@{host}>"


def _ascii_host(domain: str) -> str:
    """Return ``domain`` as a lower-case ASCII host name, or raise MessageError."""
    try:
        host = domain.strip().encode("idna").decode("ascii").lower()
    except UnicodeError as exc:
        raise _bad_domain(domain) from exc
    labels = host.split(".")
    if not host or len(host) > 253 or not all(_HOST_LABEL.fullmatch(label) for label in labels):
        raise _bad_domain(domain)
    return host


def _bad_domain(domain: str) -> MessageError:
    return MessageError(
        f"cannot make a Message-ID for the domain {domain!r}: it is not a valid host name",
        hint="check the sending mailbox's email address in the CRM (user or queue record)",
    )


def normalize_message_id(value: str) -> str | None:
    """Return ``value`` as ``<id>`` if it is a usable Message-ID, else ``None``.

    Surrounding whitespace is removed and missing angle brackets are added; an ID with whitespace,
    non-ASCII characters, inner angle brackets, or over ``MAX_MESSAGE_ID_LENGTH`` is refused.
    """
    text = value.strip()
    if text.startswith("<") and text.endswith(">"):
        text = text[1:-1]
    if not text or "<" in text or ">" in text or not _ID_BODY.fullmatch(text):
        return None
    normalized = f"<{text}>"
    return normalized if len(normalized) <= MAX_MESSAGE_ID_LENGTH else None


def split_message_ids(value: str) -> list[str]:
    """Return the Message-IDs found in a References or In-Reply-To header value, in order."""
    found = re.findall(r"<[^<>]*>", value) or value.split()
    return [mid for mid in (normalize_message_id(item) for item in found) if mid]

"""Message identity: the Internet Message-ID normalised, threading ids, and the message key.

The *message key* is what the ledger and the CRM's duplicate check (``CheckIncomingEmail``'s
``MessageId``) use to recognise a message seen before, in this mailbox or in another one:

* With a usable ``Message-ID`` header, the key is that id normalised to ``<local@domain>``: comments
  and folding whitespace removed, angle brackets added when missing. Case is kept (RFC 5322 ids are
  case-sensitive). An id longer than ``MAX_MESSAGE_ID_LENGTH`` or holding non-printable or non-ASCII
  characters is treated as missing.
* Without one, the key is *derived*: ``<{40 hex}@derived.email-router.invalid>``, the first 160 bits
  of a SHA-256 over a versioned serialisation of the stable headers (From, Sender, To, Cc, Subject,
  Date, In-Reply-To, References, each decoded and whitespace-collapsed), the decoded text and HTML
  bodies (whitespace-collapsed), and each attachment's filename, content type and size. Transport
  headers (Received, Return-Path, X-MS-Exchange-*) and MIME boundaries are left out on purpose: they
  differ between two mailboxes' copies of one message, and Exchange regenerates boundaries whenever
  it rebuilds MIME. So the same bytes always give the same key, and two copies of one message
  normally do too. Two *different* messages collide only if every one of those parts is identical.

The ``.invalid`` top-level domain (RFC 2606) guarantees a derived key never equals a real id.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

MAX_MESSAGE_ID_LENGTH = 320
"""Longest id, brackets included, used as a key. Real ids are under 120 characters; anything much
longer is hostile or broken, and the ledger and CRM columns that store the key must stay bounded."""

MAX_REFERENCES = 100
"""Most References kept: the first id (the thread root) and the latest ones, as RFC 5322 §3.6.4
advises when trimming."""

DERIVED_DOMAIN = "derived.email-router.invalid"
"""The domain of derived keys; ``.invalid`` can never be a real message's domain."""

KEY_VERSION = b"email-router message key v1\n"
"""Prefix of the derived-key hash. Changing what is hashed must change this, or keys would silently
drift and old messages be imported twice."""

STABLE_HEADERS = ("From", "Sender", "To", "Cc", "Subject", "Date", "In-Reply-To", "References")
"""The headers a derived key covers: set by the author's client, not changed in transport."""

_BRACKETED = re.compile(r"<([^<>]*)>")
_FOLD = re.compile(r"\r?\n(?=[ \t])")
_WHITESPACE = re.compile(r"\s+")
_COMMENT = re.compile(r"\([^()<>]*\)")
_COMMENT_DEPTH = 8


@dataclass(frozen=True)
class MessageKey:
    """The identity of a message: ``value`` is a ``<…>`` id; ``derived`` says whether it was computed."""

    value: str
    derived: bool = False

    def __str__(self) -> str:
        return self.value


def normalize_message_id(raw: str | None) -> str | None:
    """Return a Message-ID style header value as ``<local@domain>``, or ``None`` when unusable."""
    if raw is None:
        return None
    text = _without_comments(_FOLD.sub("", raw))
    match = _BRACKETED.search(text)
    if match:
        inner = match.group(1)
    else:
        tokens = text.split()
        inner = tokens[0] if tokens else ""
    inner = _WHITESPACE.sub("", inner)
    if not inner or len(inner) + 2 > MAX_MESSAGE_ID_LENGTH or not _printable_ascii(inner):
        return None
    return f"<{inner}>"


def _without_comments(text: str) -> str:
    """Remove RFC 5322 comments ``(…)`` outside angle brackets, up to ``_COMMENT_DEPTH`` levels deep.

    The bound keeps a hostile header of thousands of nested parentheses linear to process.
    """
    for _ in range(_COMMENT_DEPTH):
        text, count = _COMMENT.subn(" ", text)
        if not count:
            break
    return text


def _printable_ascii(text: str) -> bool:
    """Return whether every character is printable ASCII (``!`` to ``~``)."""
    return all("!" <= ch <= "~" for ch in text)


def parse_references(raw: str | None) -> tuple[tuple[str, ...], bool]:
    """Return the ids in a References header, de-duplicated, and whether the list was trimmed."""
    if raw is None:
        return (), False
    text = _FOLD.sub("", raw)
    found = [f"<{m}>" for m in _BRACKETED.findall(text)] or [t for t in text.split() if "@" in t]
    ids = [i for i in dict.fromkeys(normalize_message_id(token) for token in found) if i is not None]
    if len(ids) <= MAX_REFERENCES:
        return tuple(ids), False
    return (ids[0], *ids[len(ids) - MAX_REFERENCES + 1:]), True


def derive_message_key(
    headers: Iterable[tuple[str, str]],
    bodies: Iterable[str],
    attachments: Iterable[tuple[str, str, int]],
) -> MessageKey:
    """Compute the derived key from decoded stable headers, decoded bodies and attachment facts.

    ``headers`` holds ``(name, decoded value)`` for the ``STABLE_HEADERS`` present, in that order;
    ``attachments`` holds ``(filename, content type, size)`` per attachment, in message order.
    """
    digest = hashlib.sha256(KEY_VERSION)
    for name, value in headers:
        _feed(digest.update, "h", f"{name.lower()}:{_collapse(value)}")
    for body in bodies:
        _feed(digest.update, "b", _collapse(body))
    for filename, content_type, size in attachments:
        _feed(digest.update, "a", f"{filename}\x1f{content_type}\x1f{size}")
    return MessageKey(f"<{digest.hexdigest()[:40]}@{DERIVED_DOMAIN}>", derived=True)


def _feed(update: Callable[[bytes], None], tag: str, text: str) -> None:
    """Add one tagged, length-prefixed field, so that field boundaries cannot be forged by content."""
    data = text.encode("utf-8", "surrogatepass")
    update(f"{tag}{len(data)}:".encode("ascii"))
    update(data)


def _collapse(text: str) -> str:
    """Collapse all whitespace runs to one space, so line endings and re-folding do not matter."""
    return " ".join(text.split())

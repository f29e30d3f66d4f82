"""Small builders for test messages, so each test shows only the headers and body it is about."""

from __future__ import annotations

from pathlib import Path

CORPUS = Path(__file__).parent / "corpus"

BASE_HEADERS = (
    "From: Alice Customer <alice@fabrikam.example>",
    "To: Sales <sales@contoso.example>",
    "Date: Tue, 02 Jan 2024 09:30:00 +0100",
    "Message-ID: <base@fabrikam.example>",
    "Subject: Order 4711",
)


def corpus(name: str) -> bytes:
    """Return the bytes of one corpus file."""
    return (CORPUS / name).read_bytes()


def corpus_names() -> list[str]:
    """Return every corpus file name, sorted."""
    return sorted(path.name for path in CORPUS.glob("*.eml"))


def mime(*headers: str, body: str = "Hello.", replace: bool = False) -> bytes:
    """Build a CRLF message: the base headers (unless ``replace``) plus ``headers``, then ``body``.

    A header given here whose name is among the base headers replaces that base header.
    """
    names = {h.split(":", 1)[0].lower() for h in headers}
    base = () if replace else tuple(h for h in BASE_HEADERS if h.split(":", 1)[0].lower() not in names)
    lines = [*base, *headers, "", body]
    return "\r\n".join(lines).encode("utf-8") + b"\r\n"

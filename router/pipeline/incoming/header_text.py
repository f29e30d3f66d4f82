"""Header values as text: unfolding, raw 8-bit bytes, RFC 2047 encoded words, control characters.

The compat32 parser hands header values over as they were on the wire, with any 8-bit byte kept as a
lone surrogate. ``decode_header_value`` turns such a value into clean text and never raises:

* folding (CRLF followed by a space or tab) is removed, as RFC 5322 §2.2.3 says;
* raw 8-bit bytes (RFC 6532 UTF-8 headers, or a legacy charset nobody declared) go through
  ``decode_text`` with no label: UTF-8, then windows-1252;
* RFC 2047 encoded words are decoded leniently, as mail clients do: also inside a word, with bad
  base64 padding, stray characters or an unknown charset; whitespace between two encoded words is
  dropped (RFC 2047 §6.2), and adjacent words in one charset are joined *before* decoding, because
  senders split multi-byte characters across words;
* control characters (NUL included) are removed and tabs become spaces.

``HeaderView`` gives screening and unwrapping access to any header without decoding all of them.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from router.pipeline.incoming.charsets import decode_text

_ENCODED_WORD = re.compile(r"=\?([^?\s]{1,75})\?([bBqQ])\?([^?\s]*)\?=")
_FOLD = re.compile(r"\r?\n(?=[ \t])")
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_NOT_BASE64 = re.compile(r"[^A-Za-z0-9+/]")


@dataclass(frozen=True)
class DecodedHeader:
    """A header value as text, and the defect codes met while decoding it (empty when clean)."""

    text: str
    problems: tuple[str, ...] = ()


def wire_bytes(raw: str) -> bytes:
    """Return the bytes a compat32 header value came from (8-bit bytes are kept as surrogates)."""
    try:
        return raw.encode("ascii", "surrogateescape")
    except UnicodeEncodeError:
        # A value that already holds real non-ASCII characters came from a str source, not bytes.
        return raw.encode("utf-8", "surrogateescape")


def decode_header_value(raw: str) -> DecodedHeader:
    """Decode one raw header value into clean single-line text; never raises."""
    problems: list[str] = []
    data = wire_bytes(raw)
    if data.isascii():
        text = data.decode("ascii")
    else:
        decoded = decode_text(data, None)
        text = decoded.text
        problems.append("header-8bit")
    text = _FOLD.sub("", text)
    text, word_problems = decode_encoded_words(text)
    problems.extend(word_problems)
    flat = text.replace("\r", " ").replace("\n", " ")
    cleaned = _CONTROL.sub("", flat)
    if len(cleaned) != len(flat):
        problems.append("control-characters")
    return DecodedHeader(cleaned.replace("\t", " ").strip(), tuple(dict.fromkeys(problems)))


def decode_encoded_words(text: str) -> tuple[str, list[str]]:
    """Decode every RFC 2047 encoded word in ``text``; return the text and any defect codes."""
    out: list[str] = []
    problems: list[str] = []
    pending = bytearray()
    pending_charset: str | None = None
    pos = 0

    def flush() -> None:
        nonlocal pending_charset
        if pending_charset is not None:
            decoded = decode_text(bytes(pending), pending_charset)
            out.append(decoded.text)
            if decoded.problem:
                problems.append(decoded.problem)
        pending.clear()
        pending_charset = None

    for match in _ENCODED_WORD.finditer(text):
        gap = text[pos:match.start()]
        if gap and not (pending_charset is not None and gap.isspace()):
            flush()
            out.append(gap)
        charset = match.group(1).split("*", 1)[0]
        if pending_charset is not None and charset.lower() != pending_charset.lower():
            flush()
        payload, ok = _decode_word(match.group(2), match.group(3))
        if not ok:
            problems.append("encoded-word-invalid")
        pending += payload
        pending_charset = charset
        pos = match.end()
    flush()
    out.append(text[pos:])
    return "".join(out), problems


def _decode_word(encoding: str, payload: str) -> tuple[bytes, bool]:
    """Decode the payload of one encoded word; return the bytes and whether it was well formed."""
    if encoding in "qQ":
        return binascii.a2b_qp(payload.encode("ascii", "replace"), header=True), True
    clean = _NOT_BASE64.sub("", payload)
    ok = len(clean) == len(payload.rstrip("=")) and len(payload) % 4 == 0
    if len(clean) % 4 == 1:
        # A lone trailing sextet carries no complete byte: drop it instead of failing the word.
        clean = clean[:-1]
    return base64.b64decode(clean + "=" * (-len(clean) % 4)), ok


@dataclass(frozen=True)
class HeaderView:
    """The top-level header fields of a message, looked up case-insensitively, decoded on access.

    Values are kept as the parser read them and decoded by ``get`` / ``get_all`` each time, so a
    message with hundreds of ``Received`` lines costs nothing until someone asks for them.
    """

    raw_items: tuple[tuple[str, str], ...] = ()
    _index: dict[str, tuple[int, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        index: dict[str, list[int]] = {}
        for position, (name, _) in enumerate(self.raw_items):
            index.setdefault(name.strip().lower(), []).append(position)
        # The index is derived from raw_items once; the view stays immutable from the outside.
        object.__setattr__(self, "_index", {key: tuple(value) for key, value in index.items()})

    @classmethod
    def of(cls, items: Iterable[tuple[str, str]]) -> HeaderView:
        """Build a view over ``(name, raw value)`` pairs in message order."""
        return cls(tuple((str(name), str(value)) for name, value in items))

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._index

    def __len__(self) -> int:
        return len(self.raw_items)

    def names(self) -> tuple[str, ...]:
        """Return the header names in message order, as written."""
        return tuple(name for name, _ in self.raw_items)

    def get(self, name: str) -> str | None:
        """Return the first ``name`` header decoded to text, or ``None`` when absent."""
        positions = self._index.get(name.lower())
        return decode_header_value(self.raw_items[positions[0]][1]).text if positions else None

    def get_all(self, name: str) -> tuple[str, ...]:
        """Return every ``name`` header decoded to text, in message order."""
        positions = self._index.get(name.lower(), ())
        return tuple(decode_header_value(self.raw_items[p][1]).text for p in positions)

    def get_all_raw(self, name: str) -> tuple[str, ...]:
        """Return every ``name`` header as the parser read it, in message order."""
        return tuple(self.raw_items[p][1] for p in self._index.get(name.lower(), ()))

    def get_raw(self, name: str) -> str | None:
        """Return the first ``name`` header as the parser read it (8-bit bytes as surrogates)."""
        positions = self._index.get(name.lower())
        return self.raw_items[positions[0]][1] if positions else None

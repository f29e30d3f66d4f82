"""Charset-tolerant decoding of message text: never raises, says when it had to guess.

Mail in the wild declares charsets that Python does not know (``x-unknown``, ``windows-874``), declares
the wrong one (UTF-8 bytes labelled ``us-ascii``), or declares none at all (raw 8-bit headers). The
rules, applied in order, follow what mail clients and the WHATWG Encoding Standard do:

1. A declared label is mapped to the codec browsers use for it, which is often a superset
   (``iso-8859-1`` and ``us-ascii`` decode as ``windows-1252``, ``gb2312`` as ``gb18030``,
   ``ks_c_5601-1987`` as ``cp949``), so that text a sender's client produced under that label decodes.
2. UTF-8 labelled as a single-byte charset (``us-ascii``, ``iso-8859-1``) is the commonest
   mislabelling, and a single-byte codec would accept it as mojibake; so 8-bit text under such a
   label is decoded as UTF-8 when it is valid UTF-8 (real Latin or Cyrillic text practically never is).
3. If the bytes are not valid in the declared charset, UTF-8 and then ``windows-1252`` are tried, and
   finally the declared charset with replacement characters.
4. Without a usable label, UTF-8 is tried, then ``windows-1252`` with replacement characters.

Text that holds UTF-8 (declared so, or any well-formed multi-byte UTF-8 sequence among undeclared
bytes) but also some bad bytes — a multi-byte character cut by a truncation, one stray Latin-1 byte —
is decoded as UTF-8 with U+FFFD for the bad bytes only, rather than turning every character into
windows-1252 mojibake ("cafÃ©").

Python-internal codecs (``unicode_escape``, ``undefined``, ``idna``…) and bytes-to-bytes codecs
(``base64``, ``zlib``) are never used for a charset label: a message does not get to choose them.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from functools import cache

_LABEL_ALIASES = {
    "windows-874": "cp874",
    "iso-8859-8-i": "iso8859-8",
    "iso-8859-6-i": "iso8859-6",
    "x-sjis": "cp932",
    "x-gbk": "gb18030",
    "x-mac-roman": "mac-roman",
    "macintosh": "mac-roman",
    "utf8mb4": "utf-8",
}
"""Labels seen in mail that Python's codec registry does not know, mapped to the codec meant."""

_SUPERSETS = {
    "ascii": "cp1252",
    "latin-1": "cp1252",
    "iso8859-1": "cp1252",
    "iso8859-9": "cp1254",
    "iso8859-11": "cp874",
    "tis-620": "cp874",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "euc_kr": "cp949",
    "shift_jis": "cp932",
    "big5": "big5hkscs",
    "utf-8": "utf-8-sig",
}
"""Python codec names mapped to the superset that mail clients actually write under that label."""

_FORBIDDEN = frozenset(
    {"undefined", "unicode-escape", "raw-unicode-escape", "idna", "punycode", "mbcs", "oem"})
"""Python-internal codecs a message may not select: they interpret escapes or hostnames, not text."""

FALLBACK = "cp1252"
"""The last resort for undeclared 8-bit text: every byte maps to a character (five to U+FFFD)."""

_META_CHARSET = re.compile(rb"""<meta[^>]{0,200}?charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]{1,40})""", re.I)


@dataclass(frozen=True)
class DecodedText:
    """Text decoded from bytes, the codec that succeeded, and a defect code when a guess was needed.

    ``problem`` is ``None`` when the declared charset decoded the bytes cleanly; otherwise one of
    ``charset-unknown`` (the label names no usable codec), ``charset-missing`` (8-bit bytes without a
    label) or ``charset-mismatch`` (the bytes are not valid in the declared charset).
    """

    text: str
    codec: str
    problem: str | None = None


def resolve_codec(label: str | None) -> str | None:
    """Return the Python codec to decode text declared as ``label``, or ``None`` when unusable."""
    if not label:
        return None
    name = label.strip().strip("\"'").strip().lower()
    name = _LABEL_ALIASES.get(name, name)
    try:
        info = codecs.lookup(name)
    except (LookupError, ValueError):
        return None
    if not info._is_text_encoding or info.name in _FORBIDDEN:
        return None
    return _SUPERSETS.get(info.name, info.name)


def decode_text(data: bytes, label: str | None) -> DecodedText:
    """Decode ``data`` declared as charset ``label`` (``None`` when undeclared); never raises."""
    codec = resolve_codec(label)
    if codec is None:
        return _decode_undeclared(data, "charset-unknown" if label and label.strip() else None)
    if _single_byte(codec) and not data.isascii():
        try:
            return DecodedText(data.decode("utf-8"), "utf-8", "charset-mismatch")
        except UnicodeDecodeError:
            pass
    try:
        return DecodedText(data.decode(codec), _display(codec))
    except UnicodeDecodeError:
        pass
    if codec != "utf-8-sig":
        try:
            return DecodedText(data.decode("utf-8-sig"), "utf-8", "charset-mismatch")
        except UnicodeDecodeError:
            pass
    mostly = _mostly_utf8(data)
    if mostly is not None:
        return DecodedText(mostly, "utf-8", "charset-mismatch")
    if codec != FALLBACK:
        try:
            return DecodedText(data.decode(FALLBACK), FALLBACK, "charset-mismatch")
        except UnicodeDecodeError:
            pass
    return DecodedText(data.decode(codec, errors="replace"), _display(codec), "charset-mismatch")


def _mostly_utf8(data: bytes) -> str | None:
    """Return ``data`` decoded as UTF-8 with replacements when it holds any well-formed multi-byte
    UTF-8 sequence, else ``None``. Single-byte text (windows-1252, Latin-1) practically never forms
    one by chance, so one valid sequence says the writer meant UTF-8 and only the other bytes are bad."""
    text = data.decode("utf-8", errors="replace")
    well_formed = sum(1 for ch in text if ord(ch) > 0x7F and ch != "\ufffd")
    return text if well_formed > 0 else None


@cache
def _single_byte(codec: str) -> bool:
    """Return whether ``codec`` maps every byte to one character (so it accepts any byte string)."""
    try:
        return len(bytes(range(256)).decode(codec, errors="replace")) == 256
    except (LookupError, UnicodeError):
        return False


def _display(codec: str) -> str:
    """Return the codec name shown in defect details (``utf-8-sig`` is just UTF-8 with a BOM)."""
    return "utf-8" if codec == "utf-8-sig" else codec


def _decode_undeclared(data: bytes, problem: str | None) -> DecodedText:
    """Decode bytes without a usable label: ASCII as is, then UTF-8, then windows-1252."""
    if data.isascii():
        return DecodedText(data.decode("ascii"), "ascii", problem)
    try:
        return DecodedText(data.decode("utf-8-sig"), "utf-8", problem or "charset-missing")
    except UnicodeDecodeError:
        pass
    mostly = _mostly_utf8(data)
    if mostly is not None:
        return DecodedText(mostly, "utf-8", problem or "charset-missing")
    return DecodedText(data.decode(FALLBACK, errors="replace"), FALLBACK, problem or "charset-missing")


def sniff_html_charset(data: bytes) -> str | None:
    """Return the charset an HTML document declares in a ``<meta>`` tag near its start, if any."""
    match = _META_CHARSET.search(data[:2048])
    return match.group(1).decode("ascii") if match else None

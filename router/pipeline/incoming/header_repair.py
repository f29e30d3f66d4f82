"""Repairing a header block broken by a line that is not a header field.

RFC 5322 ends the header block at the first empty line. A stray line without a colon before it (a
``Header-Without-Colon``, a mangled fold, a line a broken script wrote) makes the stdlib parser end
the headers there: every header after it — often ``Content-Type`` and ``Content-Transfer-Encoding`` —
becomes body text, and the CRM would show raw MIME. When such a line is followed, before the first
empty line, by lines that are header fields, the line is dropped and the block read whole, as mail
clients do; ``repair_header_block`` says which lines it dropped so the change is recorded.
"""

from __future__ import annotations

import re

_FIELD = re.compile(rb"^[\x21-\x39\x3b-\x7e]+[ \t]*:")
"""A header field line: a name of printable characters other than ``:``, then ``:``."""
_LINE = re.compile(rb"[^\r\n]*(?:\r\n|\n|\r|$)")
MAX_HEADER_LINES = 2000
"""Most header lines looked at: a header block longer than that is not repaired."""
_EMPTY_LINES = (b"\r\n\r\n", b"\n\n", b"\r\r")
_KEPT_STARTS = (b" ", b"\t", b"")
"""How a line that is never dropped starts, unless it is a field: a fold, or an empty line."""


def repair_header_block(raw: bytes) -> tuple[bytes, list[str]]:
    """``raw`` with non-field lines inside its header block removed, and those lines (shortened).

    Nearly every message has nothing to repair: when no line after the first, up to an empty line
    (at or after the header block's end), could be dropped, ``raw`` is returned as it is."""
    lines = raw[:_block_end(raw)].splitlines()
    if all(_FIELD.match(line) or line[:1] in _KEPT_STARTS for line in lines[1:]):
        return raw, []
    return _repair(raw)


def _block_end(raw: bytes) -> int:
    """Where the first empty line found ends: at or after the end of the header block."""
    end = len(raw)
    for empty in _EMPTY_LINES:
        found = raw.find(empty, 0, end)
        if found >= 0:
            end = found + len(empty)
    return end


def _repair(raw: bytes) -> tuple[bytes, list[str]]:
    """``repair_header_block`` line by line."""
    lines: list[bytes] = []
    dropped: list[tuple[int, bytes]] = []
    for match in _LINE.finditer(raw):
        line = match.group(0)
        if not line or not line.strip(b"\r\n") or len(lines) >= MAX_HEADER_LINES:
            break
        if not _FIELD.match(line) and line[:1] not in (b" ", b"\t"):
            dropped.append((len(lines), line))
        lines.append(line)
    else:
        return raw, []
    fields_after = [n for n, line in enumerate(lines) if _FIELD.match(line)]
    keep = [(n, line) for n, line in dropped if fields_after and n < fields_after[-1] and n > 0]
    if not keep:
        return raw, []
    skip = {n for n, _ in keep}
    head = b"".join(line for n, line in enumerate(lines) if n not in skip)
    rest = raw[sum(len(line) for line in lines):]
    return head + rest, [line.strip(b"\r\n")[:60].decode("latin-1") for _, line in keep]

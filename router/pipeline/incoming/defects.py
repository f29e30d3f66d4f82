"""Parse defects: what was wrong with a message, recorded instead of raised.

A hostile or sloppy message is still delivered when it can be read at all; every repair the parser
made (a guessed charset, a dropped control character, a missing closing boundary) is kept as a
``ParseDefect`` so that the decision trail can show why a subject looks odd or an attachment is short.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import Message


@dataclass(frozen=True)
class ParseDefect:
    """One problem found while parsing.

    ``code`` is a stable kebab-case identifier (``charset-unknown``, ``message-id-missing``, or the
    stdlib defect class name such as ``CloseBoundaryNotFoundDefect``); ``where`` names the header or
    MIME part (``Subject``, ``part 1.2``); ``detail`` is a short human explanation.
    """

    code: str
    where: str
    detail: str = ""

    def __str__(self) -> str:
        text = f"{self.code} ({self.where})"
        return f"{text}: {self.detail}" if self.detail else text


MAX_DETAIL = 160
"""Longest ``detail`` kept: the stdlib quotes offending lines, and a hostile line can be megabytes."""


def short_detail(text: str) -> str:
    """Return ``text`` made printable and cut to ``MAX_DETAIL`` characters, for a defect's detail.

    Control and other unprintable characters are shown as escapes (``\\x07``), so an admin sees what
    was there instead of a row of question marks."""
    printable = "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii")
                        for ch in text[: MAX_DETAIL + 1])
    return printable if len(printable) <= MAX_DETAIL else printable[: MAX_DETAIL - 1] + "…"


def stdlib_defects(part: Message, where: str) -> list[ParseDefect]:
    """Translate the defects the stdlib parser attached to ``part`` into ``ParseDefect`` values."""
    return [ParseDefect(type(defect).__name__, where, short_detail(str(defect))) for defect in part.defects]

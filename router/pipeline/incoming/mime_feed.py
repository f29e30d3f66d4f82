"""``parse_mime``: the standard library's ``compat32`` MIME parse, without a regex compile per boundary.

Before Python 3.13, ``email.feedparser`` compiles a fresh regular expression for *every* multipart
boundary it meets (``'(?P<sep>' + re.escape(separator) + ...``). Boundaries are unique per message, so
``re``'s cache never hits and each multipart pays ``sre_compile``, which is pure Python: in a profile
of the incoming lane it was about a quarter of the MIME parse. CPython 3.13 replaced that pattern by
``line.startswith(separator)`` plus one precompiled pattern for the rest of the line
(``boundaryendRE``); this module gives the same matcher to 3.11 and 3.12.

It does so without copying the parser: a *private* instance of the stdlib module ``email.feedparser``
is loaded from its own source, and its module-level ``re`` is a shim whose ``compile`` answers the
boundary pattern with that matcher (any other pattern goes to ``re.compile``). The global
``email.feedparser`` that the rest of the process uses is untouched. When the running stdlib does
not build the boundary pattern this way (3.13 and later), the shim is never asked and the parse is
simply the stdlib's.

``parse_mime(data)`` is ``email.message_from_bytes(data)`` (``compat32``): the same ``Message`` tree,
payloads, preamble, epilogue and defects; ``tests/unit/pipeline/incoming/test_mime_feed.py`` checks
that on the fixture corpus and on generated messages.
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Callable
from email.message import Message
from email.policy import compat32
from types import ModuleType
from typing import Any

_BOUNDARY_PREFIX = "(?P<sep>"
_BOUNDARY_TAIL = r")(?P<end>--)?(?P<ws>[ \t]*)(?P<linesep>\r\n|\r|\n)?$"
_BOUNDARY_END = re.compile(r"(?P<end>--)?(?P<ws>[ \t]*)(?P<linesep>\r\n|\r|\n)?$")
"""The rest of a boundary line after its separator, compiled once (CPython 3.13's ``boundaryendRE``)."""
_UNESCAPE = re.compile(r"\\(.)", re.DOTALL)


class BoundaryPattern:
    """Stands for ``re.compile('(?P<sep>' + re.escape(separator) + tail)``; only ``match`` is offered,
    which is all the feed parser calls (and it reads only the ``end`` and ``linesep`` groups)."""

    __slots__ = ("separator",)

    def __init__(self, separator: str) -> None:
        self.separator = separator

    def match(self, line: str) -> re.Match[str] | None:
        if not line.startswith(self.separator):
            return None
        return _BOUNDARY_END.match(line, len(self.separator))


def boundary_separator(pattern: str) -> str | None:
    """The separator of a feed-parser boundary pattern; ``None`` for any other pattern."""
    if not (pattern.startswith(_BOUNDARY_PREFIX) and pattern.endswith(_BOUNDARY_TAIL)):
        return None
    escaped = pattern[len(_BOUNDARY_PREFIX):-len(_BOUNDARY_TAIL)]
    separator = _UNESCAPE.sub(r"\1", escaped)
    return separator if re.escape(separator) == escaped else None


class _ReShim:
    """The ``re`` module as the private feed parser sees it: boundary patterns become matchers."""

    def compile(self, pattern: Any, flags: int = 0) -> Any:
        separator = boundary_separator(pattern) if isinstance(pattern, str) and not flags else None
        return re.compile(pattern, flags) if separator is None else BoundaryPattern(separator)

    def __getattr__(self, name: str) -> Any:
        return getattr(re, name)


def _private_feedparser() -> ModuleType:
    """A fresh instance of ``email.feedparser`` whose ``re`` is the shim."""
    spec = importlib.util.find_spec("email.feedparser")
    if spec is None or spec.loader is None:  # pragma: no cover - the stdlib always has it
        raise ImportError("email.feedparser is not importable")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.re = _ReShim()  # type: ignore[attr-defined]
    return module


_FEEDPARSER = _private_feedparser()
_FeedParser: Callable[..., Any] = _FEEDPARSER.FeedParser


def parse_mime(data: bytes) -> Message:
    """``email.message_from_bytes(data)`` (``compat32``), boundaries matched without a compile each."""
    parser = _FeedParser(policy=compat32)
    parser.feed(data.decode("ascii", "surrogateescape"))
    message: Message = parser.close()
    return message

"""The text/plain alternative of an HTML body.

CRM emails are written as HTML; recipients whose client shows plain text (and spam filters, which
distrust HTML-only mail) get this rendering: paragraphs separated by blank lines, line breaks kept,
list items bulleted or numbered, links followed by their address, images replaced by their alt text,
quotations prefixed with "> ", preformatted text kept as it is, scripts and styles dropped.
"""

from __future__ import annotations

import re

import lxml.html
from lxml import etree

_SKIP = frozenset({"head", "script", "style", "title", "template", "noscript", "object", "iframe", "svg"})
_PARAGRAPH = frozenset({"p", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol", "dl", "pre", "hr"})
_LINE = frozenset({
    "div", "tr", "dt", "dd", "address", "section", "article", "header", "footer", "nav", "aside",
    "form", "fieldset", "figure", "figcaption", "caption", "center", "main", "body",
})
_CELL = frozenset({"td", "th"})
_PARSER = lxml.html.HTMLParser(encoding="utf-8")
_WHITESPACE = re.compile(r"[ \t\r\n\f\v\u00a0]+")
_INDENT = "\x01"
"""Stands for a space that line tidying must keep (indentation, preformatted text)."""
_PARA = "\x02"
"""A paragraph boundary: at most one blank line, however many blocks end or begin there."""
_LINE_BREAK = "\x03"
"""A block boundary: at most one line break, however many blocks end or begin there."""
_CELL_GAP = "\x04"
"""Separates table cells: a tab between cells, nothing at the start or end of a row."""
_BREAK_RUN = re.compile(f"[ \n{_PARA}{_LINE_BREAK}]*[\n{_PARA}{_LINE_BREAK}][ \n{_PARA}{_LINE_BREAK}]*")


def html_to_text(html: str) -> str:
    """Return a readable plain-text rendering of ``html`` (an empty string for an empty body)."""
    if not html.strip():
        return ""
    try:
        # Parsing bytes with a fixed encoding accepts XML declarations and ignores stale <meta charset>.
        root = lxml.html.document_fromstring(html.encode("utf-8"), parser=_PARSER)
    except etree.ParserError:  # Nothing but comments or processing instructions: no text at all.
        return ""
    writer = _TextWriter()
    writer.element(root)
    return _tidy("".join(writer.parts))


class _TextWriter:
    """Walks an lxml tree and appends text and break markers to ``parts``."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.lists: list[list[int]] = []
        self.pre = 0

    def text(self, value: str | None) -> None:
        if not value:
            return
        if self.pre:
            self.parts.append(value.replace(" ", _INDENT))
        else:
            self.parts.append(_WHITESPACE.sub(" ", value))

    def element(self, el: etree._Element) -> None:
        tag = el.tag.lower() if isinstance(el.tag, str) else ""
        if tag and tag not in _SKIP:
            self._open(tag, el)
            if tag == "blockquote":
                self._quote(el)
            else:
                self._children(el)
            self._close(tag, el)

    def _children(self, el: etree._Element) -> None:
        self.text(el.text)
        for child in el:
            self.element(child)
            self.text(child.tail)

    def _open(self, tag: str, el: etree._Element) -> None:
        if tag in _PARAGRAPH:
            self.parts.append(self._block_break(tag))
        elif tag in _LINE:
            self.parts.append(_LINE_BREAK)
        elif tag == "br":
            self.parts.append("\n")
        elif tag in _CELL:
            self.parts.append(_CELL_GAP)
        if tag in ("ul", "ol"):
            self.lists.append([1 if tag == "ol" else 0])
        elif tag == "li":
            self._bullet()
        elif tag == "pre":
            self.pre += 1
        elif tag == "img" and el.get("alt", "").strip():
            self.parts.append(f"[{el.get('alt', '').strip()}]")
        elif tag == "hr":
            self.parts.append("-" * 20)

    def _close(self, tag: str, el: etree._Element) -> None:
        if tag in ("ul", "ol") and self.lists:
            self.lists.pop()
        elif tag == "pre":
            self.pre -= 1
        elif tag == "a":
            self._link_target(el)
        if tag in _PARAGRAPH:
            self.parts.append(self._block_break(tag))
        elif tag in _LINE or tag == "li":
            self.parts.append(_LINE_BREAK)
        elif tag in _CELL:
            self.parts.append(_CELL_GAP)

    def _block_break(self, tag: str) -> str:
        """A list nested in a list item continues its parent list; other paragraphs stand apart."""
        return _LINE_BREAK if tag in ("ul", "ol") and self.lists else _PARA

    def _bullet(self) -> None:
        depth = max(len(self.lists), 1)
        counter = self.lists[-1] if self.lists else [0]
        marker = f"{counter[0]}. " if counter[0] else "- "
        if counter[0]:
            counter[0] += 1
        self.parts.append(_LINE_BREAK + _INDENT * 2 * (depth - 1) + marker.replace(" ", _INDENT))

    def _link_target(self, el: etree._Element) -> None:
        href = (el.get("href") or "").strip()
        label = _WHITESPACE.sub(" ", "".join(str(part) for part in el.itertext())).strip()
        if href and not href.startswith(("#", "cid:", "javascript:")) and href != label and (
                href.removeprefix("mailto:") != label):
            self.parts.append(f" <{href}>")

    def _quote(self, el: etree._Element) -> None:
        inner = _TextWriter()
        inner.lists, inner.pre = self.lists, self.pre
        inner._children(el)
        quoted = _tidy("".join(inner.parts))
        lines = [f">{_INDENT}{line}" if line else ">" for line in quoted.split("\n")]
        self.parts.append(_PARA + "\n".join(lines).replace(" ", _INDENT) + _PARA)


def _tidy(raw: str) -> str:
    """Resolve break markers, strip the spaces around each line, keep at most one blank line."""
    text = _BREAK_RUN.sub(_breaks, raw)
    lines = [re.sub(f" *{_CELL_GAP}[ {_CELL_GAP}]*", "\t", line.strip(f" {_CELL_GAP}"))
             for line in text.split("\n")]
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip("\n")
    return text.replace(_INDENT, " ")


def _breaks(run: re.Match[str]) -> str:
    """Return the line breaks a run of break markers stands for."""
    value = run.group()
    wanted = 2 if _PARA in value else 1 if _LINE_BREAK in value else 0
    return "\n" * max(wanted, value.count("\n"))

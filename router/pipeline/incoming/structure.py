"""The MIME tree read as a mail client shows it: a text body, an HTML body, and attachments.

Rules, applied while walking the tree in order (an explicit stack, so hostile nesting cannot exhaust
Python's recursion limit):

* ``multipart/*`` containers are entered; parts nested deeper than ``MAX_DEPTH`` are dropped with a
  ``nesting-too-deep`` defect (no real client nests past a dozen levels).
* An attached message (``message/*``) is one attachment; its own bodies are not the outer message's.
* The first ``text/plain`` and the first ``text/html`` part that are not attachments (no
  ``attachment`` disposition, no filename) are the bodies. A later one (Apple Mail splits text around
  inline images) is kept as an inline attachment marked ``in_description``: every such inline text
  part is also recorded, in order, as a ``BodyPart``, and the activity's description shows them all
  as a mail client does (``body_parts``), so none is lost and none is shown twice. A message with no
  such part whose first text part is named but not ``attachment`` (mailers that call the body
  ``msg.txt``) shows that part as its description.
* A ``multipart/*`` whose declared boundary is never found is re-read with the boundary its body
  does use, when one line of it is plainly a boundary (``--token`` followed by part headers), with a
  ``boundary-mismatch`` defect. Otherwise it is read as plain text: its content is kept as the text
  body (or an attachment when a text body exists), with the parser's defect.
* Every other part is an attachment.

Bodies are decoded here (they are needed for every delivered message); attachments are not.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from email.message import Message

from router.pipeline.incoming.attachments import (
    Attachment,
    attachment_from_part,
    children_of,
    leaf_bytes,
    part_filename,
)
from router.pipeline.incoming.body_parts import BodyPart, group_of
from router.pipeline.incoming.boundaries import recover_boundary
from router.pipeline.incoming.charsets import decode_text, sniff_html_charset
from router.pipeline.incoming.defects import ParseDefect, stdlib_defects

MAX_DEPTH = 50
"""Deepest MIME nesting read; deeper parts are dropped with a defect."""

_BODY_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
"""Control characters removed from bodies (NUL included): never meaningful in text, and they break
XML, which the CRM's SOAP endpoints and many renderers use."""


@dataclass(frozen=True)
class Structure:
    """What the walk found: decoded bodies (``None`` when absent), attachments, and defects."""

    body_text: str | None
    body_html: str | None
    attachments: tuple[Attachment, ...]
    defects: tuple[ParseDefect, ...]
    body_parts: tuple[BodyPart, ...] = ()


class _Walk:
    """Mutable state of one walk; kept private so that ``walk_structure`` stays a pure function."""

    def __init__(self) -> None:
        self.text: str | None = None
        self.html: str | None = None
        self.attachments: list[Attachment] = []
        self.defects: list[ParseDefect] = []
        self.body_parts: list[BodyPart] = []
        self.alternatives: set[str] = set()
        self.named_text: tuple[Message, str, int] | None = None

    def visit(self, part: Message, path: str) -> list[tuple[Message, str]]:
        """Handle one part; return the children still to walk, with their paths."""
        self.defects.extend(stdlib_defects(part, _where(path)))
        if part.is_multipart() and part.get_content_maintype() == "message":
            self._attach(part, path)
            return []
        if not part.is_multipart() and part.get_content_maintype() == "multipart":
            recovered = recover_boundary(part)
            if recovered is not None:
                part, used = recovered
                self.defects.append(ParseDefect("boundary-mismatch", _where(path),
                                                f"the body uses the boundary {used!r}, not the declared one"))
        if part.is_multipart():
            if part.get_content_subtype() == "alternative":
                self.alternatives.add(path)
            children = children_of(part)
            return [(child, f"{path}.{n}" if path else str(n)) for n, child in enumerate(children, 1)]
        self._leaf(part, path)
        return []

    def _leaf(self, part: Message, path: str) -> None:
        """Place a single part: a body when it is the first of its kind, else an attachment."""
        content_type = part.get_content_type()
        if content_type.startswith("multipart/"):
            self.defects.append(ParseDefect("multipart-unreadable", _where(path),
                                            "boundary missing or never found; content kept as text"))
            content_type = "text/plain"
        if content_type in ("text/plain", "text/html") and _is_body_candidate(part):
            is_html = content_type == "text/html"
            text = self._decode_body(part, path, html=is_html)
            self.body_parts.append(BodyPart(text, is_html, group_of(path, self.alternatives)))
            if not is_html and self.text is None:
                self.text = text
                return
            if is_html and self.html is None:
                self.html = text
                return
            self._attach(part, path, in_description=True)
            return
        if content_type in ("text/plain", "text/html") and self.named_text is None and _not_attachment(part):
            self.named_text = (part, path, len(self.attachments))
        self._attach(part, path)

    def finish(self) -> None:
        """A message whose only text is a named part that is not ``attachment`` (mailers that name the
        body ``msg.txt``): clients show that part as the body, so the description does too."""
        if self.body_parts or self.named_text is None:
            return
        part, path, index = self.named_text
        is_html = part.get_content_type() == "text/html"
        self.body_parts.append(BodyPart(self._decode_body(part, path, html=is_html), is_html,
                                        group_of(path, self.alternatives)))
        self.attachments[index] = replace(self.attachments[index], in_description=True)

    def _attach(self, part: Message, path: str, *, in_description: bool = False) -> None:
        attachment = attachment_from_part(part, len(self.attachments) + 1, path or "root")
        self.attachments.append(replace(attachment, in_description=True) if in_description else attachment)

    def _decode_body(self, part: Message, path: str, *, html: bool) -> str:
        """Decode a body part to text with its declared (or sniffed) charset; never raises."""
        data = leaf_bytes(part)
        label = _charset(part) or (sniff_html_charset(data) if html else None)
        decoded = decode_text(data, label)
        if decoded.problem:
            self.defects.append(ParseDefect(decoded.problem, _where(path),
                                            f"declared {label or 'nothing'}, decoded as {decoded.codec}"))
        text = decoded.text.replace("\r\n", "\n").replace("\r", "\n")
        if _BODY_CONTROL.search(text) is None:
            return text
        cleaned = _BODY_CONTROL.sub("", text)
        if len(cleaned) != len(text):
            self.defects.append(ParseDefect("control-characters", _where(path),
                                            f"{len(text) - len(cleaned)} removed from the body"))
        return cleaned


def walk_structure(message: Message) -> Structure:
    """Walk a parsed message and return its bodies, attachments and structural defects."""
    walk = _Walk()
    stack: list[tuple[Message, str, int]] = [(message, "", 0)]
    while stack:
        part, path, depth = stack.pop()
        if depth > MAX_DEPTH:
            walk.defects.append(ParseDefect("nesting-too-deep", _where(path),
                                            f"parts below depth {MAX_DEPTH} were dropped"))
            continue
        children = walk.visit(part, path)
        stack.extend((child, child_path, depth + 1) for child, child_path in reversed(children))
    walk.finish()
    return Structure(walk.text, walk.html, tuple(walk.attachments), tuple(walk.defects),
                     tuple(walk.body_parts))


def _not_attachment(part: Message) -> bool:
    """Return whether a part's disposition is anything but ``attachment`` (inline, or none)."""
    return str(part.get("Content-Disposition", "")).split(";", 1)[0].strip().lower() != "attachment"


def _is_body_candidate(part: Message) -> bool:
    """Return whether a text part is meant as the message body (not an attached file)."""
    disposition = str(part.get("Content-Disposition", "")).split(";", 1)[0].strip().lower()
    return disposition != "attachment" and not part_filename(part)


def _charset(part: Message) -> str | None:
    """Return the part's declared charset, or ``None``; tolerant of RFC 2231 and garbage values."""
    try:
        return part.get_content_charset()
    except (LookupError, UnicodeError, ValueError, TypeError):
        return None


def _where(path: str) -> str:
    """Name a part for defect reports: ``message`` for the root, ``part 1.2`` otherwise."""
    return f"part {path}" if path else "message"

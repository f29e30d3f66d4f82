"""The activity's description: every inline text part of a message, in order, as mail clients show it.

A message can carry more text than one body: a ``multipart/mixed`` of a plain part, an HTML part and
more plain parts (a forwarded note, a signature a gateway appended, Apple Mail's text around inline
images). Clients show all of them, one after the other; the CRM's description must too, or text is
lost. The walk (``structure``) records each inline text part (``text/plain`` or ``text/html``, no
filename, not ``attachment``) as a ``BodyPart``, with the ``multipart/alternative`` it belongs to:
of one alternative, only one representation is shown — the richest, HTML, when there is one (RFC
2046 §5.1.4), else the first plain one.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass

Group = tuple[str, int]
"""A ``multipart/alternative``'s path and the number of its child a part is under."""


@dataclass(frozen=True)
class BodyPart:
    """One inline text part: decoded text, whether it is HTML, and its alternative (if any)."""

    text: str
    html: bool
    group: Group | None = None


def group_of(path: str, alternatives: set[str]) -> Group | None:
    """The nearest ``multipart/alternative`` above the part at ``path`` (``1.2.1``), and which child."""
    parts = path.split(".") if path else []
    for depth in range(len(parts) - 1, -1, -1):
        ancestor = ".".join(parts[:depth])
        if ancestor in alternatives:
            return ancestor, int(parts[depth])
    return None


def description_html(parts: Sequence[BodyPart]) -> str | None:
    """The HTML description of ``parts`` (None without any): in order, one choice per alternative."""
    chosen = _chosen_children(parts)
    shown: list[str] = []
    done: set[str] = set()
    for part in parts:
        if part.group is None:
            shown.append(_as_html(part))
            continue
        alternative = part.group[0]
        if alternative in done:
            continue
        done.add(alternative)
        shown += [_as_html(p) for p in parts if p.group == (alternative, chosen[alternative])]
    return "\n".join(shown) if shown else None


def _chosen_children(parts: Sequence[BodyPart]) -> dict[str, int]:
    """Per alternative: the last child holding HTML, else the first child holding text."""
    with_html: dict[str, int] = {}
    with_text: dict[str, int] = {}
    for part in parts:
        if part.group is not None:
            alternative, child = part.group
            if part.html:
                with_html[alternative] = max(child, with_html.get(alternative, child))
            else:
                with_text.setdefault(alternative, child)
    return {**with_text, **with_html}


def _as_html(part: BodyPart) -> str:
    return part.text if part.html else html.escape(part.text).replace("\n", "<br>\n")

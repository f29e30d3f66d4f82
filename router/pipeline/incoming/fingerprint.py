"""A message's content in brief, so that a second copy of it can say how it differs from the first.

Two items can carry one Message-ID and still differ: a resend with another body, a copy with three
more Cc. The CRM keeps the first as the activity; the second is recorded as a duplicate of it, and
the trail says what differs. For that, every message the CRM accepts leaves a ``Fingerprint`` in the
trail (stage ``content``): its addresses, digests of its subject and bodies, and its attachments'
names and sizes. It is small, holds no body text, and reads back from the trail's JSON.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from router.pipeline.incoming.parse import ParsedMessage

CONTENT_STAGE = "content"
"""The trail stage of a fingerprint row."""
CONTENT_RESULT = "recorded"
MAX_NAMED = 5
"""Most addresses or attachment names a difference lists before saying "and N more"."""


@dataclass(frozen=True)
class Fingerprint:
    """What tells two copies of a message apart, without their text."""

    from_: str
    to: tuple[str, ...]
    cc: tuple[str, ...]
    subject: str
    body: str
    attachments: tuple[str, ...]

    def to_text(self) -> str:
        """The compact JSON stored as the trail row's text."""
        return json.dumps({"from": self.from_, "to": self.to, "cc": self.cc, "subject": self.subject,
                           "body": self.body, "attachments": self.attachments}, separators=(",", ":"))

    @classmethod
    def from_text(cls, text: str | None) -> Fingerprint | None:
        """Read a fingerprint back from a trail row; None when the text is not one."""
        try:
            data = json.loads(text or "")
            return cls(str(data["from"]), tuple(data["to"]), tuple(data["cc"]), str(data["subject"]),
                       str(data["body"]), tuple(data["attachments"]))
        except (ValueError, KeyError, TypeError):
            return None


def fingerprint(parsed: ParsedMessage) -> Fingerprint:
    """The fingerprint of a parsed message."""
    body = "\x1f".join(b for b in (parsed.body_text, parsed.body_html) if b is not None)
    return Fingerprint(
        from_=parsed.from_address or "",
        to=tuple(box.normalized for box in parsed.to),
        cc=tuple(box.normalized for box in parsed.cc),
        subject=_digest(parsed.subject),
        body=_digest(" ".join(body.split())),
        attachments=tuple(f"{a.filename} ({a.size} bytes)" for a in parsed.attachments))


def difference(first: Fingerprint, second: Fingerprint) -> str:
    """How ``second`` differs from ``first``, for an admin; "the same content" when it does not."""
    parts: list[str] = []
    if first.from_ != second.from_:
        parts.append(f"From {first.from_ or '(none)'} -> {second.from_ or '(none)'}")
    parts += _listed("To", first.to, second.to)
    parts += _listed("Cc", first.cc, second.cc)
    if first.subject != second.subject:
        parts.append("another subject")
    if first.body != second.body:
        parts.append("another body")
    parts += _listed("attachments", first.attachments, second.attachments)
    return "; ".join(parts) if parts else "the same content"


def _listed(name: str, first: Sequence[str], second: Sequence[str]) -> list[str]:
    added = [x for x in second if x not in first]
    removed = [x for x in first if x not in second]
    if not added and not removed:
        return []
    return [f"{name} {' '.join(_named('+', added) + _named('-', removed))}"]


def _named(sign: str, values: Iterable[str]) -> list[str]:
    items = list(values)
    shown = [f"{sign}{v}" for v in items[:MAX_NAMED]]
    if len(items) > MAX_NAMED:
        shown.append(f"{sign}{len(items) - MAX_NAMED} more")
    return shown


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]

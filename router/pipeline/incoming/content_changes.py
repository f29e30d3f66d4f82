"""Every change the router makes to a message's content, said in the trail.

An admin comparing the mailbox with the CRM must never find a difference nobody recorded. Besides the
size policy (stripped attachments, noted on the activity and in the trail) and unreadable attachments,
the router changes content in these ways, each collected here as one sentence of the ``content``
``changed`` trail row:

* the subject is cut to the CRM's limit (``SUBJECT_LIMIT``, the e-mail activity's subject length);
* bytes valid in no charset tried are replaced by U+FFFD (in a header or a body);
* control characters are removed from a header or body;
* a line without a colon inside the header block is dropped (``header_repair``);
* MIME parts nested too deep are dropped; a body whose boundary was not the declared one is re-read
  with the one it uses; a multipart whose boundary is never found is kept as text.
"""

from __future__ import annotations

from router.pipeline.incoming.defects import ParseDefect
from router.pipeline.incoming.parse import ParsedMessage

SUBJECT_LIMIT = 800
"""The CRM e-mail activity's subject length (Dynamics 365 and the embedded CRM)."""

REPLACEMENT = "\ufffd"

_STRUCTURAL = {
    "nesting-too-deep": "dropped MIME parts nested too deep ({where}: {detail})",
    "boundary-mismatch": "read {where} with the boundary its body uses ({detail})",
    "multipart-unreadable": "kept {where} as text: its MIME boundary is missing or never found",
    "control-characters": "removed control characters from {where}",
    "header-line-dropped": "dropped {detail}, so the header fields after it stay headers",
}


def fit_subject(subject: str) -> tuple[str, str | None]:
    """The subject as the CRM can hold it, and the note saying it was cut (None when it was not)."""
    if len(subject) <= SUBJECT_LIMIT:
        return subject, None
    return subject[:SUBJECT_LIMIT], (f"cut the subject from {len(subject)} to {SUBJECT_LIMIT} characters "
                                     "(the CRM's limit)")


def content_changes(parsed: ParsedMessage, subject_note: str | None = None) -> str | None:
    """One text naming every change made to ``parsed``'s content on its way to the CRM, or None."""
    changes = [subject_note] if subject_note else []
    replaced = _replaced(parsed)
    if replaced:
        changes.append(f"replaced bytes that are valid in no charset tried with U+FFFD in {replaced}")
    changes += [_said(defect) for defect in parsed.defects if defect.code in _STRUCTURAL]
    unique = list(dict.fromkeys(changes))
    return "; ".join(unique) if unique else None


def _replaced(parsed: ParsedMessage) -> str:
    places = []
    if REPLACEMENT in parsed.subject:
        places.append("the subject")
    if any(REPLACEMENT in part.text for part in parsed.body_parts) or REPLACEMENT in (parsed.body_text or ""):
        places.append("the body")
    return " and ".join(places)


def _said(defect: ParseDefect) -> str:
    return _STRUCTURAL[defect.code].format(where=defect.where, detail=defect.detail)

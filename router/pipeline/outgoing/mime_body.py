"""The body of an outgoing email: text and HTML alternatives, inline images, attachments.

Structure, from the outside in (parts that have nothing to hold are left out)::

    multipart/mixed                      only when there are attachments
    ├── multipart/alternative
    │   ├── text/plain                   generated from the HTML
    │   └── multipart/related            only when there are inline images
    │       ├── text/html
    │       └── image/...                Content-ID, Content-Disposition: inline
    └── application/...                  each attachment, filename in RFC 2231 form

Boundaries are derived from a seed (a hash of the Message-ID) so that rendering is repeatable.
"""

from __future__ import annotations

import mimetypes
import re
from email.message import EmailMessage

from router.pipeline.outgoing.addresses import clean_display_name
from router.pipeline.outgoing.message import Attachment, OutgoingMessage
from router.pipeline.outgoing.plaintext import html_to_text

FALLBACK_TYPE = ("application", "octet-stream")
_TOKEN = re.compile(r"[A-Za-z0-9!#$&^_.+-]+")
_CONTAINER_TYPES = frozenset({"multipart", "message"})


def write_body(email: EmailMessage, message: OutgoingMessage, seed: bytes) -> list[str]:
    """Write the body of ``message`` into ``email``; return warnings about repaired attachments."""
    warnings: list[str] = []
    html = message.html_body
    email.set_content(html_to_text(html), subtype="plain", charset="utf-8")
    if html.strip():
        email.add_alternative(html, subtype="html", charset="utf-8")
        html_part = _part(email, 1)
        for attachment in (item for item in message.attachments if item.inline):
            _add_inline(html_part, attachment, warnings)
    for attachment in (item for item in message.attachments if not item.inline):
        email.add_attachment(attachment.content, *_content_type(attachment, warnings),
                             filename=_filename(attachment), disposition="attachment")
        _name_parameter(_part(email, -1), attachment)
    _tidy_parts(email, seed)
    return warnings


def _add_inline(html_part: EmailMessage, attachment: Attachment, warnings: list[str]) -> None:
    cid = (attachment.content_id or "").strip().strip("<>")
    html_part.add_related(attachment.content, *_content_type(attachment, warnings), cid=f"<{cid}>",
                          filename=_filename(attachment), disposition="inline")
    _name_parameter(_part(html_part, -1), attachment)


def _part(container: EmailMessage, index: int) -> EmailMessage:
    """Return the sub-part at ``index`` of a multipart built by this module."""
    part = list(container.iter_parts())[index]
    if not isinstance(part, EmailMessage):
        raise TypeError(f"expected an EmailMessage part, got {type(part).__name__}")
    return part


def _name_parameter(part: EmailMessage, attachment: Attachment) -> None:
    """Repeat the file name as the Content-Type ``name`` parameter, as Exchange and Outlook write it."""
    part.set_param("name", _filename(attachment))


def _filename(attachment: Attachment) -> str:
    return clean_display_name(attachment.filename) or "attachment"


def _content_type(attachment: Attachment, warnings: list[str]) -> tuple[str, str]:
    """Return (maintype, subtype) for ``attachment``; unusable types become application/octet-stream.

    Container types (multipart/*, message/*) are sent as octet-stream too: their bytes would need the
    MIME structure re-parsed, and a message/rfc822 part may not be base64-encoded (RFC 2046 5.2.1).
    """
    declared = attachment.content_type.split(";")[0].strip().lower()
    if not declared:
        declared = mimetypes.guess_type(_filename(attachment), strict=False)[0] or "/".join(FALLBACK_TYPE)
    maintype, _, subtype = declared.partition("/")
    if _TOKEN.fullmatch(maintype) and _TOKEN.fullmatch(subtype) and maintype not in _CONTAINER_TYPES:
        return maintype, subtype
    warnings.append(f"attachment {_filename(attachment)!r}: content type {attachment.content_type!r} "
                    "sent as application/octet-stream")
    return FALLBACK_TYPE


def _tidy_parts(email: EmailMessage, seed: bytes) -> None:
    """Give each multipart a repeatable boundary and drop the MIME-Version the library adds to parts.

    A boundary starts with "=_", which quoted-printable and base64 output can never contain, and holds
    32 hex digits of a hash of the Message-ID, which no body text can anticipate.
    """
    for number, part in enumerate(email.walk()):
        if part is not email:
            del part["MIME-Version"]
        if part.is_multipart():
            part.set_boundary(boundary(seed, number))


def boundary(seed: bytes, number: int) -> str:
    """The boundary of the multipart that is part ``number`` of the tree (walk order, 0 the top)."""
    return f"=_{seed.hex()[:32]}_{number}"

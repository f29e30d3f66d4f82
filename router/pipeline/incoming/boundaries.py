"""Reading a multipart whose declared boundary its body never uses.

Broken gateways and hand-written scripts declare ``boundary="A"`` and then separate the parts with
``--B``. The stdlib then sees no parts at all, and the whole body — ``--B`` lines, part headers, base64
— would reach the CRM as text. When a line of the body is plainly a boundary (``--token`` directly
followed by a part header), the part is parsed again with that boundary.
"""

from __future__ import annotations

import re
from email.message import Message

from router.pipeline.incoming.attachments import raw_payload
from router.pipeline.incoming.header_text import wire_bytes
from router.pipeline.incoming.mime_feed import parse_mime

_CANDIDATE = re.compile(r"^--([^\s]{1,70}?)(?:--)?[ \t]*\r?\n(?=[A-Za-z][A-Za-z0-9-]*:)", re.MULTILINE)
"""A ``--token`` line followed at once by a header line."""


def recover_boundary(part: Message) -> tuple[Message, str] | None:
    """``part`` re-parsed with the boundary its body uses, and that boundary; None when none is found."""
    payload = raw_payload(part)
    match = _CANDIDATE.search(payload)
    if match is None:
        return None
    boundary = match.group(1)
    header = f'Content-Type: {part.get_content_type()}; boundary="{boundary}"\r\n\r\n'
    reparsed = parse_mime(wire_bytes(header) + wire_bytes(payload))
    children = reparsed.get_payload() if reparsed.is_multipart() else None
    if not children:
        return None
    return reparsed, boundary

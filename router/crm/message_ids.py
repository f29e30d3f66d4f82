"""A stable Message-ID for messages that arrive without one.

The CRM de-duplicates incoming mail by Message-ID, so a message without the header still needs an id
that is the same in every mailbox it reaches and on every poll. The id is a digest of what does not
change between copies: sender, To and Cc (never Bcc, which differs per copy), subject, the sent time (or
the received time when the message carries no Date), the body and the attachment names and sizes.
"""

from __future__ import annotations

import hashlib
from datetime import UTC
from typing import TYPE_CHECKING

from router.crm.addresses import header_addresses, normalize

if TYPE_CHECKING:
    from router.crm.gateway import IncomingEmail

DERIVED_DOMAIN = "derived.email-router.invalid"


def derive_message_id(email: IncomingEmail) -> str:
    """Return ``<digest@derived.email-router.invalid>`` for a message without a Message-ID."""
    when = email.sent_on or email.received_on
    parts = [
        ",".join(normalize(a) for a in header_addresses([email.sender])),
        ",".join(sorted(normalize(a) for a in header_addresses(email.to))),
        ",".join(sorted(normalize(a) for a in header_addresses(email.cc))),
        email.subject.strip(),
        when.astimezone(UTC).isoformat(timespec="seconds"),
        hashlib.sha256(email.body.encode("utf-8", "surrogatepass")).hexdigest(),
        ",".join(f"{a.filename}:{a.size}" for a in email.attachments),
    ]
    digest = hashlib.sha256("\n".join(parts).encode("utf-8", "surrogatepass")).hexdigest()[:40]
    return f"<{digest}@{DERIVED_DOMAIN}>"


#: ``email.messageid`` holds at most 320 characters.
MESSAGE_ID_MAX = 320


def bounded_message_id(message_id: str) -> str:
    """Return ``message_id``, or a digest of it when it is longer than the CRM column can hold."""
    if len(message_id) <= MESSAGE_ID_MAX:
        return message_id
    digest = hashlib.sha256(message_id.encode("utf-8", "surrogatepass")).hexdigest()[:40]
    return f"<{digest}@{DERIVED_DOMAIN}>"


def is_derived(message_id: str) -> bool:
    """Return True when ``message_id`` was derived here rather than read from the message."""
    return message_id.endswith(f"@{DERIVED_DOMAIN}>")

"""The neutral description of one email to send, built by the claim step from a CRM email activity.

Nothing here knows about the CRM's entity shapes or about EWS: ``OutgoingMessage`` holds what the
render step needs, already decided by the CRM (the subject carries the tracking token the CRM set;
the parties are resolved to addresses). Sequences may be passed as lists; they are stored as tuples so
that a message stays immutable and hashable.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum

from router.pipeline.outgoing.addresses import MailAddress


class Priority(IntEnum):
    """The CRM's ``deliveryprioritycode``: 0 Low, 1 Normal, 2 High."""

    LOW = 0
    NORMAL = 1
    HIGH = 2

    @classmethod
    def from_crm(cls, code: int | None) -> Priority:
        """Return the priority for a CRM ``deliveryprioritycode``; missing or unknown codes mean Normal.

        A priority is never worth failing a send for, so an unexpected value is read as Normal.
        """
        try:
            return cls(code) if code is not None else cls.NORMAL
        except ValueError:
            return cls.NORMAL


@dataclass(frozen=True)
class Attachment:
    """A file attached to the email; with ``content_id`` it is an inline image the HTML shows.

    ``content_type`` is the CRM's ``mimetype``; when it is empty the type is guessed from the file name.
    ``content_id`` is the ID the HTML body refers to as ``cid:...`` (with or without angle brackets).
    """

    filename: str
    content: bytes
    content_type: str = ""
    content_id: str | None = None

    @property
    def inline(self) -> bool:
        """Whether the attachment is shown inside the HTML body rather than listed as a file."""
        return bool(self.content_id and self.content_id.strip("<> "))


@dataclass(frozen=True)
class ParentEmail:
    """The tracked email this one answers: its Message-ID and threading headers, as received."""

    message_id: str
    """The parent's Message-ID; it becomes In-Reply-To and the last entry of References."""
    references: tuple[str, ...] = ()
    """The parent's own References, oldest first."""
    thread_index: str | None = None
    """The parent's Thread-Index header value, if it had one."""
    thread_topic: str | None = None
    """The parent's Thread-Topic header value, if it had one."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "references", tuple(self.references))


@dataclass(frozen=True)
class OutgoingMessage:
    """One email to send, exactly as it must leave.

    ``message_id`` is the Message-ID the router generated with ``new_message_id`` and recorded on the
    CRM email before rendering. ``date`` is the instant to put in the Date header (the caller passes
    ``clock.now()``); it also dates a new Thread-Index. ``activity_id`` names the CRM email in errors.
    """

    message_id: str
    sender: MailAddress
    subject: str
    html_body: str
    date: datetime
    to: Sequence[MailAddress] = ()
    cc: Sequence[MailAddress] = ()
    bcc: Sequence[MailAddress] = ()
    attachments: Sequence[Attachment] = ()
    parent: ParentEmail | None = None
    priority: Priority = Priority.NORMAL
    activity_id: str | None = field(default=None)

    def __post_init__(self) -> None:
        for name in ("to", "cc", "bcc", "attachments"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        if self.date.tzinfo is None:
            raise ValueError("OutgoingMessage.date must be timezone-aware (pass clock.now())")

"""One mailbox as the pipelines see it: sync a page, fetch MIME, acknowledge, send, find, watch.

Every transport (EWS through exchangelib, Microsoft Graph) implements ``MailboxSession``; one
parametrised contract suite (tests/contract/mailbox/) runs against each. Per-item failures are values
(an error in the result mapping), never an abort of the batch (house rule 2); what concerns the whole
mailbox raises the router's TransportError subclasses.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, runtime_checkable

from router.errors import TransportError


@dataclass(frozen=True)
class ItemRef:
    """A message a sync page reports: the transport's id, the Internet Message-ID and when it arrived
    (the pipelines skip mail received before a mailbox's process-from instant)."""

    id: str
    message_id: str | None = None
    received: datetime | None = None


@dataclass(frozen=True)
class SyncPage:
    """One page of a folder's changes.

    ``items`` are the messages the folder gained since the state; Graph's delta cannot tell a new
    message from a changed one, so over Graph they include messages changed since (by our own
    acknowledgement, say), which the ledger recognises. ``removed`` are ids that left the folder.

    ``state`` is what to save (like an EWS sync state or a Graph delta/next link) and pass to the next
    call; ``more`` says the folder has further changes right now. ``reset`` means the saved state was
    refused by the server (expired, corrupt): the caller drops it and syncs again from the start, with
    its ledger keeping exactly-once.
    """

    items: list[ItemRef] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    state: str | None = None
    more: bool = False
    reset: bool = False


@dataclass(frozen=True)
class MessageContent:
    """A fetched message: its MIME, the categories it carries now (acknowledging merges the router's
    own with the user's) and when it arrived."""

    mime: bytes
    categories: tuple[str, ...] = ()
    received: datetime | None = None


@dataclass(frozen=True)
class Acknowledge:
    """What is done on the server to a message the CRM now holds."""

    categories: tuple[str, ...] | None = None
    """The message's categories afterwards (None: left as they are)."""
    mark_read: bool = False
    move_to: str | None = None
    """A folder path from the top of the mailbox (``Inbox/CRM``, first name may be ``Inbox``) or a
    well-known folder name (``deleteditems``)."""
    delete: bool = False
    """Delete the message (to Deleted Items) instead of marking or moving it."""


@runtime_checkable
class MailboxSession(Protocol):
    """The operations of one mailbox (``address``) that the lane steps need."""

    address: str

    def sync_page(self, state: str | None, *, max_changes: int = 50) -> SyncPage:
        """The next page of the Inbox's changes after ``state`` (None: from the start)."""
        ...

    def fetch_mime(self, ids: Sequence[str]) -> dict[str, bytes | TransportError]:
        """The MIME of each message, or that message's error."""
        ...

    def fetch(self, ids: Sequence[str]) -> dict[str, MessageContent | TransportError]:
        """The MIME, categories and received time of each message, or that message's error."""
        ...

    def acknowledge(self, ids: Sequence[str], action: Acknowledge) -> dict[str, str | TransportError]:
        """Apply ``action`` to each message; its id afterwards (a move gives a new id), or its error."""
        ...

    def send_mime(self, mime: bytes) -> None:
        """Send the rendered MIME as it is, saving a copy to Sent Items; the server decides Send As /
        Send On Behalf from the From header and the rights held (SendAsDeniedError otherwise)."""
        ...

    def find_sent(self, message_id: str) -> str | None:
        """The id of the Sent Items message with this Internet Message-ID, or None (crash recovery)."""
        ...

    def wait_for_changes(self, timeout: float) -> bool:
        """Block until the Inbox may have changed or ``timeout`` seconds pass; True when woken early by
        a notification. A transport without notifications waits out the timeout (poll)."""
        ...


@runtime_checkable
class BatchSender(Protocol):
    """A session that sends several e-mails in one request (Graph's ``$batch``), each with its outcome."""

    def send_mime_many(self, mimes: Sequence[bytes]) -> list[TransportError | None]:
        """Send each MIME as ``send_mime`` does; per e-mail None (sent) or its error. Raises when the
        request fails as a whole: whether any of them left is then unknown (look in Sent Items)."""
        ...

"""The simulator's data model: users, applications, mailboxes, folders, items and journal entries.

Plain dataclasses, mutated only by the Store under its lock. An item's MIME bytes are its canonical
content; the summary fields (subject, addresses, ids) are parsed from them once, at creation.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum

from router.simulator import ids
from router.simulator.changes import ChangeLog


@dataclass(frozen=True)
class Address:
    """An SMTP address with its display name."""

    email: str
    name: str = ""

    @property
    def key(self) -> str:
        return self.email.lower()

    def formatted(self) -> str:
        """Render as an RFC 5322 mailbox, the way Outlook shows it."""
        from email.utils import formataddr

        return formataddr((self.name, self.email)) if self.name else self.email


class FolderLevel(Enum):
    """Delegate folder permission levels (the schema's DelegateFolderPermissionLevelType)."""

    NONE = "None"
    REVIEWER = "Reviewer"
    AUTHOR = "Author"
    EDITOR = "Editor"

    @property
    def rank(self) -> int:
        return ["None", "Reviewer", "Author", "Editor"].index(self.value)


DELEGATE_FOLDERS = {
    "CalendarFolderPermissionLevel": "calendar",
    "TasksFolderPermissionLevel": "tasks",
    "InboxFolderPermissionLevel": "inbox",
    "ContactsFolderPermissionLevel": "contacts",
    "NotesFolderPermissionLevel": "notes",
    "JournalFolderPermissionLevel": "journal",
}
"""DelegatePermissions children, in schema order, and the distinguished folder each one governs."""


@dataclass
class Delegate:
    """A delegate added with AddDelegate: folder levels plus the implied Send On Behalf right."""

    user: str
    levels: dict[str, FolderLevel] = field(default_factory=dict)
    receive_copies_of_meeting_messages: bool = False
    view_private_items: bool = False


@dataclass
class User:
    """A mailbox-enabled directory user. Without a password it cannot log on (a shared mailbox)."""

    address: str
    name: str
    password: str | None = None
    username: str | None = None
    aliases: list[str] = field(default_factory=list)
    sid: str = ""
    application_impersonation: bool = False
    impersonation_scope: set[str] | None = None
    full_access: set[str] = field(default_factory=set)
    send_as: set[str] = field(default_factory=set)
    send_on_behalf: set[str] = field(default_factory=set)
    delegates: dict[str, Delegate] = field(default_factory=dict)
    deliver_meeting_requests: str = "DelegatesAndMe"
    message_copy_for_sent_as: bool = False
    """Exchange Online's MessageCopyForSentAsEnabled: a message another mailbox sends as this one is
    also saved to this mailbox's Sent Items (the sender's own copy stays in the sender's)."""
    message_copy_for_send_on_behalf: bool = False
    """MessageCopyForSendOnBehalfEnabled: the same for messages sent on behalf of this mailbox."""

    @property
    def key(self) -> str:
        return self.address.lower()

    @property
    def logon(self) -> str:
        return self.username or self.address.split("@", 1)[0]

    def as_address(self) -> Address:
        return Address(self.address, self.name)


@dataclass
class App:
    """An OAuth client-credentials application (app-only tokens)."""

    client_id: str
    client_secret: str
    tenant: str = "common"
    name: str = ""
    full_access_as_app: bool = True
    scope: set[str] | None = None
    graph_permissions: set[str] = field(default_factory=set)
    """Microsoft Graph application permissions granted with admin consent (Mail.ReadWrite, Mail.Send)."""
    graph_mailboxes: set[str] | None = None
    """The mailboxes an application access policy lets the app reach over Graph (None: all)."""
    certificate: str | None = None
    """A PEM certificate whose key may sign client assertions instead of the secret."""


@dataclass
class Flag:
    """The follow-up flag of an item."""

    status: str = "NotFlagged"
    start: datetime | None = None
    due: datetime | None = None
    complete: datetime | None = None


@dataclass(frozen=True)
class ExtendedKey:
    """The identity of an extended MAPI property as a PathToExtendedFieldType names it."""

    property_type: str
    tag: int | None = None
    set_id: str | None = None
    distinguished_set: str | None = None
    name: str | None = None
    prop_id: int | None = None


@dataclass(frozen=True)
class Attachment:
    """A file attachment as CreateItem received it (kept for GetItem; the MIME carries it too)."""

    uid: bytes
    name: str
    content_type: str
    content: bytes
    content_id: str | None = None
    is_inline: bool = False


@dataclass(eq=False)
class Item:
    """One message in one folder. ``mime`` is canonical; the other content fields mirror it."""

    uid: bytes
    folder: Folder
    mime: bytes
    subject: str = ""
    from_: Address | None = None
    sender: Address | None = None
    to: list[Address] = field(default_factory=list)
    cc: list[Address] = field(default_factory=list)
    bcc: list[Address] = field(default_factory=list)
    reply_to: list[Address] = field(default_factory=list)
    message_id: str | None = None
    in_reply_to: str | None = None
    references: str | None = None
    date_sent: datetime | None = None
    date_received: datetime | None = None
    date_created: datetime | None = None
    last_modified: datetime | None = None
    item_class: str = "IPM.Note"
    is_read: bool = False
    is_draft: bool = False
    is_from_me: bool = False
    is_submitted: bool = False
    importance: str = "Normal"
    sensitivity: str = "Normal"
    categories: list[str] = field(default_factory=list)
    flag: Flag = field(default_factory=Flag)
    extended: dict[ExtendedKey, str | list[str]] = field(default_factory=dict)
    attachments: list[Attachment] = field(default_factory=list)
    attachments_read: bool = False
    """Whether ``attachments`` was read from the MIME (``attachment_mime.attachments_of``)."""
    has_attachments: bool = False
    version: int = 1
    article: int = 0
    """PR_INTERNET_ARTICLE_NUMBER: positive, increasing per folder, new when the item enters a folder."""
    _b64: str | None = None

    @property
    def mailbox(self) -> str:
        return self.folder.mailbox

    @property
    def ews_id(self) -> str:
        return ids.encode(ids.ObjectId(ids.IdKind.ITEM, self.uid))

    @property
    def change_key(self) -> str:
        return ids.change_key(self.uid, self.version)

    @property
    def size(self) -> int:
        return len(self.mime)

    @property
    def mime_b64(self) -> str:
        """Base64 of the MIME, computed once and cached: GetItem with MimeContent serves it as is."""
        if self._b64 is None:
            self._b64 = base64.b64encode(self.mime).decode("ascii")
        return self._b64

    def set_mime(self, mime: bytes) -> None:
        self.mime = mime
        self._b64 = None


@dataclass(eq=False)
class Folder:
    """A mail folder. Items keep insertion order, which is delivery order."""

    uid: bytes
    mailbox: str
    name: str
    parent: Folder | None
    distinguished: str | None = None
    folder_class: str | None = "IPF.Note"
    hidden: bool = False
    children: list[Folder] = field(default_factory=list)
    items: dict[bytes, Item] = field(default_factory=dict)
    version: int = 1
    changes: ChangeLog = field(default_factory=ChangeLog)
    next_article: int = 1

    def number(self, item: Item) -> None:
        """Give ``item``, arriving in this folder, the folder's next article number."""
        item.article = self.next_article
        self.next_article += 1

    @property
    def ews_id(self) -> str:
        return ids.encode(ids.ObjectId(ids.IdKind.FOLDER, self.uid))

    @property
    def change_key(self) -> str:
        return ids.change_key(self.uid, self.version)

    @property
    def unread(self) -> int:
        return sum(1 for i in self.items.values() if not i.is_read)

    def path(self) -> str:
        """The folder's path below the top of the information store, e.g. ``Inbox/CRM``."""
        parts: list[str] = []
        node: Folder | None = self
        while node is not None and node.distinguished not in ("msgfolderroot", "root"):
            parts.append(node.name)
            node = node.parent
        return "/".join(reversed(parts))


@dataclass(frozen=True)
class JournalEntry:
    """One message as it left the organisation: envelope and the exact bytes a remote recipient gets."""

    seq: int
    submitted_at: datetime
    mail_from: str
    recipients: tuple[str, ...]
    mime: bytes
    via: str

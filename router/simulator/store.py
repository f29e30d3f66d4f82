"""The simulator's store: directory (users, applications), mailboxes, folders, items and the journal.

One re-entrant lock guards everything; operations take it for their whole run, which keeps each EWS
request atomic as Exchange's store transactions are. Every mutation records a change for
SyncFolderItems and publishes an event for subscriptions.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field, replace

from router.clock import Clock, SystemClock
from router.errors import SimulatorError
from router.simulator import ids, mime
from router.simulator.events import Event, EventHub, EventType
from router.simulator.model import Address, App, Attachment, Folder, Item, JournalEntry, User
from router.simulator.rules import Rule

STANDARD_FOLDERS: tuple[tuple[str, str, str | None, str], ...] = (
    ("msgfolderroot", "Top of Information Store", None, "root"),
    ("inbox", "Inbox", "IPF.Note", "msgfolderroot"),
    ("drafts", "Drafts", "IPF.Note", "msgfolderroot"),
    ("sentitems", "Sent Items", "IPF.Note", "msgfolderroot"),
    ("deleteditems", "Deleted Items", "IPF.Note", "msgfolderroot"),
    ("outbox", "Outbox", "IPF.Note", "msgfolderroot"),
    ("junkemail", "Junk Email", "IPF.Note", "msgfolderroot"),
    ("calendar", "Calendar", "IPF.Appointment", "msgfolderroot"),
    ("contacts", "Contacts", "IPF.Contact", "msgfolderroot"),
    ("tasks", "Tasks", "IPF.Task", "msgfolderroot"),
    ("notes", "Notes", "IPF.StickyNote", "msgfolderroot"),
    ("journal", "Journal", "IPF.Journal", "msgfolderroot"),
    ("recoverableitemsroot", "Recoverable Items", None, "root"),
    ("recoverableitemsdeletions", "Deletions", None, "recoverableitemsroot"),
)
"""Distinguished folders every mailbox gets: id, display name, folder class, parent."""

HIDDEN = {"recoverableitemsroot", "recoverableitemsdeletions"}


@dataclass
class Mailbox:
    """One mailbox: its folder tree and its change sequence."""

    owner: User
    root: Folder
    distinguished: dict[str, Folder] = field(default_factory=dict)
    seq: int = 0

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def folders(self) -> Iterator[Folder]:
        """Every folder of the mailbox, depth first, root included."""
        stack = [self.root]
        while stack:
            node = stack.pop()
            yield node
            stack.extend(reversed(node.children))


class Store:
    """Everything the simulated Exchange organisation holds, behind one lock."""

    def __init__(
        self, *, clock: Clock | None = None, hostname: str = "ews.sim.local", secret: bytes | None = None
    ) -> None:
        self.lock = threading.RLock()
        self.clock = clock or SystemClock()
        self.hostname = hostname
        self.signer = ids.TokenSigner(secret or os.urandom(32))
        self.events = EventHub()
        self.users: dict[str, User] = {}
        self.apps: dict[str, App] = {}
        self.mailboxes: dict[str, Mailbox] = {}
        self.journal: list[JournalEntry] = []
        self.rules: dict[str, list[Rule]] = {}
        self._aliases: dict[str, str] = {}
        self._logons: dict[str, str] = {}
        self._items: dict[bytes, Item] = {}
        self._folders: dict[bytes, Folder] = {}

    # Directory ---------------------------------------------------------------------------------

    def add_user(self, user: User) -> User:
        """Create a mailbox-enabled user with the standard folder tree."""
        with self.lock:
            for addr in [user.address, *user.aliases]:
                if addr.lower() in self._aliases:
                    raise SimulatorError(
                        f"the address {addr} is already taken by another user",
                        hint="give every user and alias a unique SMTP address",
                    )
            if not user.sid:
                user.sid = f"S-1-5-21-1004336348-1177238915-682003330-{1000 + len(self.users)}"
            self.users[user.key] = user
            for addr in [user.address, *user.aliases]:
                self._aliases[addr.lower()] = user.key
            for name in (user.logon, user.address, f"{self.netbios}\\{user.logon}"):
                self._logons[name.lower()] = user.key
            self.mailboxes[user.key] = self._new_mailbox(user)
            return user

    @property
    def netbios(self) -> str:
        """The NetBIOS domain name users may log on with (``DOMAIN\\user``)."""
        return self.hostname.split(".")[1].upper() if self.hostname.count(".") >= 2 else "SIM"

    def add_app(self, app: App) -> App:
        with self.lock:
            self.apps[app.client_id] = app
            return app

    def user(self, address: str | None) -> User | None:
        """Return the user owning ``address`` (primary or alias), or None."""
        if not address:
            return None
        key = self._aliases.get(address.strip().lower())
        return self.users.get(key) if key else None

    def require_user(self, address: str) -> User:
        found = self.user(address)
        if found is None:
            raise SimulatorError(
                f"no mailbox {address} in the simulator",
                hint="seed the user first (seed file [[users]] or the control API)",
            )
        return found

    def logon(self, name: str) -> User | None:
        """Return the user a logon name (``user``, ``DOMAIN\\user`` or UPN) designates."""
        key = self._logons.get(name.strip().lower())
        if key is None and "\\" in name:
            key = self._logons.get(name.split("\\", 1)[1].lower())
        return self.users.get(key) if key else None

    def mailbox(self, address: str) -> Mailbox | None:
        user = self.user(address)
        return self.mailboxes.get(user.key) if user else None

    # Folders -----------------------------------------------------------------------------------

    def _new_mailbox(self, user: User) -> Mailbox:
        root = self._register(Folder(uuid.uuid4().bytes, user.key, "", None, "root", None))
        box = Mailbox(user, root, {"root": root})
        for dist, name, cls, parent in STANDARD_FOLDERS:
            folder = self._register(
                Folder(
                    uuid.uuid4().bytes,
                    user.key,
                    name,
                    box.distinguished[parent],
                    dist,
                    cls,
                    hidden=dist in HIDDEN,
                )
            )
            folder.parent.children.append(folder)  # type: ignore[union-attr]
            box.distinguished[dist] = folder
        return box

    def _register(self, folder: Folder) -> Folder:
        self._folders[folder.uid] = folder
        return folder

    def folder(self, uid: bytes) -> Folder | None:
        return self._folders.get(uid)

    def distinguished(self, address: str, name: str) -> Folder | None:
        box = self.mailbox(address)
        return box.distinguished.get(name.lower()) if box else None

    def create_folder(self, parent: Folder, name: str, folder_class: str | None = "IPF.Note") -> Folder:
        with self.lock:
            existing = next((c for c in parent.children if c.name.lower() == name.lower()), None)
            if existing is not None:
                return existing
            folder = self._register(
                Folder(uuid.uuid4().bytes, parent.mailbox, name, parent, None, folder_class)
            )
            parent.children.append(folder)
            self.mailboxes[parent.mailbox].next_seq()
            return folder

    def rename_folder(self, folder: Folder, name: str) -> None:
        """Give ``folder`` a new display name (and a new ChangeKey)."""
        with self.lock:
            folder.name = name
            folder.version += 1
            self.mailboxes[folder.mailbox].next_seq()

    def remove_folder(self, folder: Folder) -> None:
        """Delete ``folder`` with its subfolders and items for good."""
        with self.lock:
            for sub in list(folder.children):
                self.remove_folder(sub)
            for item in list(folder.items.values()):
                self.delete(item)
            if folder.parent is not None:
                folder.parent.children.remove(folder)
            self._folders.pop(folder.uid, None)
            self.mailboxes[folder.mailbox].next_seq()

    def reparent_folder(self, folder: Folder, parent: Folder) -> None:
        """Move ``folder`` (with what it holds) below ``parent`` of the same mailbox."""
        with self.lock:
            if folder.parent is not None:
                folder.parent.children.remove(folder)
            folder.parent = parent
            parent.children.append(folder)
            folder.version += 1
            self.mailboxes[folder.mailbox].next_seq()

    def folder_by_path(self, address: str, path: str, *, create: bool = False) -> Folder:
        """Resolve ``inbox``, ``Inbox/CRM`` or a distinguished name to a folder of ``address``."""
        box = self.mailboxes[self.require_user(address).key]
        parts = [p for p in path.replace("\\", "/").split("/") if p]
        if not parts:
            return box.distinguished["msgfolderroot"]
        node = box.distinguished.get(parts[0].lower()) or self._child(
            box.distinguished["msgfolderroot"], parts[0], create, address
        )
        for part in parts[1:]:
            node = self._child(node, part, create, address)
        return node

    def _child(self, parent: Folder, name: str, create: bool, address: str) -> Folder:
        found = next((c for c in parent.children if c.name.lower() == name.lower()), None)
        if found is not None:
            return found
        if create:
            return self.create_folder(parent, name)
        raise SimulatorError(
            f"mailbox {address} has no folder '{name}' under '{parent.path() or parent.name}'",
            hint="create the folder in the seed file's folders list first",
        )

    # Items -------------------------------------------------------------------------------------

    def item(self, uid: bytes) -> Item | None:
        return self._items.get(uid)

    def attachment(self, uid: bytes) -> tuple[Item, Attachment] | None:
        """The item holding the file attachment ``uid``, and the attachment (a scan: attachments are few)."""
        with self.lock:
            for item in self._items.values():
                for att in item.attachments:
                    if att.uid == uid:
                        return item, att
        return None

    def add_item(
        self, folder: Folder, raw: bytes, *, summary: mime.Summary | None = None, **props: object
    ) -> Item:
        """Store a message in ``folder``; summary fields come from the MIME (parsed unless ``summary`` is
        given) unless ``props`` sets them."""
        with self.lock:
            now = self.clock.now()
            summary = summary or mime.summarize(raw)
            item = Item(
                uuid.uuid4().bytes,
                folder,
                raw,
                subject=summary.subject,
                from_=summary.from_,
                sender=summary.sender or summary.from_,
                to=list(summary.to),
                cc=list(summary.cc),
                bcc=list(summary.bcc),
                reply_to=list(summary.reply_to),
                message_id=summary.message_id,
                in_reply_to=summary.in_reply_to,
                references=summary.references,
                date_sent=summary.date,
                date_received=now,
                date_created=now,
                last_modified=now,
                importance=summary.importance,
                has_attachments=summary.has_attachments,
            )
            for key, value in props.items():
                setattr(item, key, value)
            self._place(item, folder, new_mail=folder.distinguished == "inbox" and not item.is_draft)
            return item

    def _place(self, item: Item, folder: Folder, *, new_mail: bool = False) -> None:
        box = self.mailboxes[folder.mailbox]
        item.folder = folder
        folder.number(item)
        folder.items[item.uid] = item
        self._items[item.uid] = item
        folder.changes.created(item.uid, box.next_seq())
        self._publish(EventType.CREATED, item, folder)
        if new_mail:
            self._publish(EventType.NEW_MAIL, item, folder)

    def _publish(
        self, kind: EventType, item: Item | None, folder: Folder, old: tuple[bytes, bytes] | None = None
    ) -> None:
        self.events.publish(
            Event(
                kind,
                folder.mailbox,
                self.clock.now(),
                folder.uid,
                item.uid if item else None,
                old[0] if old else None,
                old[1] if old else None,
            )
        )

    def touch(self, item: Item, *, read_only: bool = False) -> None:
        """Record that ``item`` changed: new ChangeKey, change-log entry, ModifiedEvent."""
        with self.lock:
            item.version += 1
            item.last_modified = self.clock.now()
            box = self.mailboxes[item.folder.mailbox]
            item.folder.changes.modified(item.uid, box.next_seq(), read_only=read_only)
            self._publish(EventType.MODIFIED, item, item.folder)

    def _unplace(self, item: Item) -> None:
        folder = item.folder
        folder.items.pop(item.uid, None)
        self._items.pop(item.uid, None)
        folder.changes.removed(item.uid, self.mailboxes[folder.mailbox].next_seq())

    def move(self, item: Item, dest: Folder) -> Item:
        """Move an item; like Exchange, the moved item gets a new id."""
        with self.lock:
            source = item.folder
            self._unplace(item)
            moved = replace(item, uid=uuid.uuid4().bytes, folder=dest, version=1)
            dest.number(moved)
            dest.items[moved.uid] = moved
            self._items[moved.uid] = moved
            dest.changes.created(moved.uid, self.mailboxes[dest.mailbox].next_seq())
            self._publish(EventType.MOVED, moved, dest, (item.uid, source.uid))
            return moved

    def copy(self, item: Item, dest: Folder) -> Item:
        with self.lock:
            copied = replace(
                item,
                uid=uuid.uuid4().bytes,
                folder=dest,
                version=1,
                categories=list(item.categories),
                extended=dict(item.extended),
            )
            dest.number(copied)
            dest.items[copied.uid] = copied
            self._items[copied.uid] = copied
            dest.changes.created(copied.uid, self.mailboxes[dest.mailbox].next_seq())
            self._publish(EventType.COPIED, copied, dest, (item.uid, item.folder.uid))
            return copied

    def delete(self, item: Item) -> None:
        """Remove an item for good (HardDelete)."""
        with self.lock:
            folder = item.folder
            self._unplace(item)
            self.events.publish(
                Event(EventType.DELETED, folder.mailbox, self.clock.now(), folder.uid, item.uid)
            )

    # Journal -----------------------------------------------------------------------------------

    def record_outbound(
        self, mail_from: str, recipients: list[Address], raw: bytes, via: str
    ) -> JournalEntry:
        """Record a message leaving the organisation (what the remote recipients receive)."""
        with self.lock:
            entry = JournalEntry(
                len(self.journal) + 1,
                self.clock.now(),
                mail_from,
                tuple(r.email for r in recipients),
                raw,
                via,
            )
            self.journal.append(entry)
            return entry

    def address_of(self, email: str, name: str = "") -> Address:
        """Return the Address for ``email``, with the directory's display name when it is internal."""
        user = self.user(email)
        return Address(user.address, user.name) if user else Address(email, name)

"""Per-folder change tracking behind SyncFolderItems.

Every mutation gets a sequence number from the mailbox. A folder remembers, per item, when it arrived
and when its content or read flag last changed, plus a tombstone for items that left. A sync state is
just "the highest sequence number the client has seen", so the net change since then is computed, not
replayed: an item created and deleted in between never shows up, an item created then modified shows
up once as a Create.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


class ChangeKind(Enum):
    """The change types of SyncFolderItemsChangesType, in schema order."""

    CREATE = "Create"
    UPDATE = "Update"
    DELETE = "Delete"
    READ_FLAG = "ReadFlagChange"


@dataclass
class _Entry:
    created: int
    content: int
    read: int

    @property
    def last(self) -> int:
        return max(self.created, self.content, self.read)


@dataclass(frozen=True)
class Change:
    """One net change of one item since a sync state."""

    kind: ChangeKind
    uid: bytes
    seq: int


@dataclass
class ChangeLog:
    """The change history of one folder's items."""

    entries: dict[bytes, _Entry] = field(default_factory=dict)
    tombstones: dict[bytes, tuple[int, int]] = field(default_factory=dict)

    def created(self, uid: bytes, seq: int) -> None:
        self.tombstones.pop(uid, None)
        self.entries[uid] = _Entry(seq, seq, seq)

    def modified(self, uid: bytes, seq: int, *, read_only: bool) -> None:
        entry = self.entries.get(uid)
        if entry is None:
            return
        if read_only:
            entry.read = seq
        else:
            entry.content = seq

    def removed(self, uid: bytes, seq: int) -> None:
        entry = self.entries.pop(uid, None)
        if entry is not None:
            self.tombstones[uid] = (entry.created, seq)

    def since(self, seen: int) -> list[Change]:
        """Return the net changes after sequence ``seen``, oldest first."""
        out: list[Change] = []
        for uid, e in self.entries.items():
            if e.created > seen:
                out.append(Change(ChangeKind.CREATE, uid, e.last))
            elif e.content > seen:
                out.append(Change(ChangeKind.UPDATE, uid, e.last))
            elif e.read > seen:
                out.append(Change(ChangeKind.READ_FLAG, uid, e.last))
        for uid, (created, deleted) in self.tombstones.items():
            if created <= seen < deleted:
                out.append(Change(ChangeKind.DELETE, uid, deleted))
        out.sort(key=lambda c: c.seq)
        return out

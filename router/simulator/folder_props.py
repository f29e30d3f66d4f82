"""Extended MAPI properties Exchange computes for a folder, asked for by tag in a FolderShape.

PR_DISPLAY_NAME (0x3001), PR_CONTENT_COUNT (0x3602), PR_CONTENT_UNREAD (0x3603), PR_SUBFOLDERS
(0x360A, Boolean), PR_CONTAINER_CLASS (0x3613), PR_FOLDER_CHILD_COUNT (0x6638),
PR_LOCAL_COMMIT_TIME_MAX (0x670A, the latest change of any item in the folder),
PR_LAST_MODIFICATION_TIME (0x3008), PR_ENTRYID (0x0FFF) and PR_SOURCE_KEY (0x65E0). Clients that
watch folders cheaply (IMAP gateways, sync tools) poll these instead of FindItem.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from router.simulator import ids
from router.simulator.model import ExtendedKey, Folder


def _latest(folder: Folder) -> datetime | None:
    times = [t for i in folder.items.values() for t in (i.last_modified, i.date_created, i.date_received)
             if t is not None]
    return max(times, default=None)


FOLDER_TAGS: dict[int, Callable[[Folder], object]] = {
    0x0FFF: lambda f: ids.entry_id(ids.ObjectId(ids.IdKind.FOLDER, f.uid)),
    0x65E0: lambda f: ids.source_key(f.uid, 1),
    0x3001: lambda f: f.name,
    0x3008: _latest,
    0x3602: lambda f: len(f.items),
    0x3603: lambda f: f.unread,
    0x360A: lambda f: any(not c.hidden for c in f.children),
    0x3613: lambda f: f.folder_class,
    0x6638: lambda f: sum(1 for c in f.children if not c.hidden),
    0x670A: _latest,
}


def folder_value(folder: Folder, key: ExtendedKey) -> object:
    """The value of the tagged property ``key`` on ``folder`` (None when it has none)."""
    if key.tag is None or key.tag not in FOLDER_TAGS:
        return None
    return FOLDER_TAGS[key.tag](folder)

"""Folder paths as profiles name them (``Inbox/CRM``) to Graph folder ids, which moves need.

A path is display names from the top of the mailbox; its first name may be a Graph well-known name
(``inbox``, ``deleteditems``...), whatever the folder's localised display name. Each step lists the
child folders of the previous one and matches the name case-insensitively, as Outlook shows them.
"""

from __future__ import annotations

from urllib.parse import quote

from router.errors import PermanentTransportError
from router.graph.client import GraphClient

WELL_KNOWN = frozenset({"inbox", "deleteditems", "sentitems", "drafts", "junkemail", "archive", "outbox"})


def resolve(client: GraphClient, mailbox: str, path: str) -> str:
    """The folder id (or well-known name) of ``path`` in ``mailbox``; a clear error when it is missing."""
    parts = [p for p in path.replace("\\", "/").split("/") if p]
    if not parts:
        return "msgfolderroot"
    first = parts[0].lower()
    current = first if first in WELL_KNOWN else _child(client, mailbox, "msgfolderroot", parts[0], path)
    for part in parts[1:]:
        current = _child(client, mailbox, current, part, path)
    return current


def _child(client: GraphClient, mailbox: str, parent: str, name: str, path: str) -> str:
    url = f"/users/{quote(mailbox)}/mailFolders/{parent}/childFolders"
    response = client.request("GET", mailbox, url, params={"$top": "250", "$select": "id,displayName"})
    for entry in response.json().get("value", []):
        if str(entry.get("displayName", "")).casefold() == name.casefold():
            return str(entry["id"])
    raise PermanentTransportError(
        f"mailbox {mailbox} has no folder '{name}' (from the path '{path}')",
        hint="create the folder in the mailbox, or fix acknowledge.move_to in the profile",
        mailbox=mailbox,
        code="FolderNotFound",
    )

"""Graph resources: message and mail-folder JSON, Graph ids, and the JSON error every failure becomes.

Graph ids are opaque base64url strings; the simulator's carry a kind prefix and the 16-byte unique id
the EWS face also uses, so one item has one identity on both faces (though different id strings, as in
Exchange Online). A moved message gets a new id, as it does in Exchange.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from datetime import datetime

from router.simulator.model import Address, Folder, Item

_MESSAGE = b"GM"
_FOLDER = b"GF"

WELL_KNOWN = {
    "inbox": "inbox",
    "drafts": "drafts",
    "sentitems": "sentitems",
    "deleteditems": "deleteditems",
    "outbox": "outbox",
    "junkemail": "junkemail",
    "msgfolderroot": "msgfolderroot",
    "archive": "archive",
}
"""Graph's well-known folder names that the simulator's mailboxes have (archive is refused as unknown)."""


@dataclass
class GraphError(Exception):
    """A failure as Graph answers it: HTTP status and ``{"error": {"code", "message"}}``."""

    status: int
    code: str
    message: str
    headers: list[tuple[str, str]] = field(default_factory=list)

    def body(self) -> bytes:
        return json.dumps({"error": {"code": self.code, "message": self.message}}).encode()


def message_id(item: Item) -> str:
    return message_id_of(item.uid)


def message_id_of(uid: bytes) -> str:
    return base64.urlsafe_b64encode(_MESSAGE + uid).decode().rstrip("=")


def folder_id(folder: Folder) -> str:
    return base64.urlsafe_b64encode(_FOLDER + folder.uid).decode().rstrip("=")


def decode_id(text: str, kind: str) -> bytes:
    """The 16-byte uid inside a Graph id of ``kind`` ("message" or "folder"); 400 when malformed."""
    prefix = _MESSAGE if kind == "message" else _FOLDER
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise GraphError(400, "ErrorInvalidIdMalformed", "Id is malformed.") from exc
    if len(raw) != 18 or not raw.startswith(prefix):
        raise GraphError(400, "ErrorInvalidIdMalformed", "Id is malformed.")
    return raw[2:]


def _when(value: datetime | None) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


def _address(addr: Address | None) -> dict[str, object] | None:
    return {"emailAddress": {"name": addr.name or addr.email, "address": addr.email}} if addr else None


def message(item: Item, select: list[str] | None = None) -> dict[str, object]:
    """The message resource; ``select`` limits it to those properties (``id`` always comes)."""
    data: dict[str, object] = {
        "id": message_id(item),
        "changeKey": item.change_key,
        "createdDateTime": _when(item.date_created),
        "lastModifiedDateTime": _when(item.last_modified),
        "receivedDateTime": _when(item.date_received),
        "sentDateTime": _when(item.date_sent),
        "hasAttachments": item.has_attachments,
        "internetMessageId": item.message_id,
        "subject": item.subject,
        "importance": item.importance.lower(),
        "parentFolderId": folder_id(item.folder),
        "conversationId": None,
        "isRead": item.is_read,
        "isDraft": item.is_draft,
        "categories": list(item.categories),
        "from": _address(item.from_),
        "sender": _address(item.sender),
        "toRecipients": [_address(a) for a in item.to],
        "ccRecipients": [_address(a) for a in item.cc],
        "bccRecipients": [_address(a) for a in item.bcc],
        "replyTo": [_address(a) for a in item.reply_to],
    }
    if not select:
        return data
    wanted = {s.lower() for s in select} | {"id"}
    return {k: v for k, v in data.items() if k.lower() in wanted}


def folder(node: Folder) -> dict[str, object]:
    return {
        "id": folder_id(node),
        "displayName": node.name,
        "parentFolderId": folder_id(node.parent) if node.parent else None,
        "childFolderCount": len([c for c in node.children if not c.hidden]),
        "unreadItemCount": node.unread,
        "totalItemCount": len(node.items),
    }

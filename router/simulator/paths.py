"""Property paths (FieldURI, ExtendedFieldURI) and the values they name on an item.

Used by FindItem restrictions and sort orders, and by the ExtendedProperty rendering. The MAPI tags
listed are the ones clients use to sort and filter mail (delivery and submit time, size, Message-ID,
transport headers, sender) and those Exchange computes for every message (flags, article number,
entry id, record, search and source keys, code page); other extended properties are whatever a client
stored with UpdateItem.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from router.simulator import ids, mime
from router.simulator.model import ExtendedKey, Item
from router.simulator.xml import Element, fbool, fdate, local


@dataclass(frozen=True)
class FieldPath:
    """A t:FieldURI (``item:Subject``) or t:IndexedFieldURI."""

    uri: str
    index: str | None = None


Path = FieldPath | ExtendedKey


def _int(text: str | None) -> int | None:
    if text is None:
        return None
    return int(text, 16) if text.lower().startswith("0x") else int(text)


def parse_path(el: Element) -> Path | None:
    """Read a path element (FieldURI, IndexedFieldURI or ExtendedFieldURI); None for anything else."""
    name = local(el)
    if name == "FieldURI":
        return FieldPath(el.get("FieldURI", ""))
    if name == "IndexedFieldURI":
        return FieldPath(el.get("FieldURI", ""), el.get("FieldIndex"))
    if name == "ExtendedFieldURI":
        return ExtendedKey(
            property_type=el.get("PropertyType", "String"),
            tag=_int(el.get("PropertyTag")),
            set_id=(el.get("PropertySetId") or "").lower() or None,
            distinguished_set=el.get("DistinguishedPropertySetId"),
            name=el.get("PropertyName"),
            prop_id=_int(el.get("PropertyId")),
        )
    return None


def ext_attributes(key: ExtendedKey) -> dict[str, str]:
    """The ExtendedFieldURI attributes that name ``key``, in a canonical spelling."""
    attrs: dict[str, str] = {}
    if key.distinguished_set:
        attrs["DistinguishedPropertySetId"] = key.distinguished_set
    if key.set_id:
        attrs["PropertySetId"] = key.set_id
    if key.tag is not None:
        attrs["PropertyTag"] = f"0x{key.tag:x}"
    if key.name is not None:
        attrs["PropertyName"] = key.name
    if key.prop_id is not None:
        attrs["PropertyId"] = str(key.prop_id)
    attrs["PropertyType"] = key.property_type
    return attrs


def _flags(item: Item) -> int:
    return (
        (1 if item.is_read else 0)
        | (8 if item.is_draft else 0)
        | (16 if item.has_attachments else 0)
        | (32 if item.is_from_me else 0)
    )


MAPI_TAGS: dict[int, Callable[[Item], object]] = {
    0x001A: lambda i: i.item_class,
    0x0017: lambda i: {"Low": 0, "Normal": 1, "High": 2}[i.importance],
    0x0037: lambda i: i.subject,
    0x0039: lambda i: i.date_sent,
    0x0042: lambda i: i.from_.name if i.from_ else None,
    0x0065: lambda i: i.from_.email if i.from_ else None,
    0x007D: lambda i: "\r\n".join(f"{k}: {v}" for k, v in mime.headers(i.mime)) + "\r\n",
    0x0C1A: lambda i: i.sender.name if i.sender else None,
    0x0C1F: lambda i: i.sender.email if i.sender else None,
    0x0E06: lambda i: i.date_received,
    0x0E07: _flags,
    0x0E08: lambda i: i.size,
    0x0E1B: lambda i: i.has_attachments,
    0x0E23: lambda i: i.article,
    0x0E69: lambda i: i.is_read,
    0x1035: lambda i: i.message_id,
    0x1039: lambda i: i.references,
    0x1042: lambda i: i.in_reply_to,
    0x3007: lambda i: i.date_created,
    0x3008: lambda i: i.last_modified,
    0x300B: lambda i: hashlib.md5(i.uid, usedforsecurity=False).digest(),
    0x0FFF: lambda i: ids.entry_id(ids.ObjectId(ids.IdKind.ITEM, i.uid)),
    0x0FF9: lambda i: hashlib.md5(b"record" + i.uid, usedforsecurity=False).digest(),
    0x3FDE: lambda i: 65001,
    0x65E0: lambda i: ids.source_key(i.uid, i.article),
}
"""MAPI property tags computed from the item (PR_SUBJECT, PR_MESSAGE_DELIVERY_TIME, ...)."""


def _recipients(item: Item, which: str) -> list[str]:
    addrs = {"to": item.to, "cc": item.cc, "bcc": item.bcc}[which]
    return [a.email for a in addrs] + [a.name for a in addrs if a.name]


FIELDS: dict[str, Callable[[Item], object]] = {
    "item:Subject": lambda i: i.subject,
    "item:ItemClass": lambda i: i.item_class,
    "item:DateTimeReceived": lambda i: i.date_received,
    "item:DateTimeSent": lambda i: i.date_sent,
    "item:DateTimeCreated": lambda i: i.date_created,
    "item:LastModifiedTime": lambda i: i.last_modified,
    "item:Size": lambda i: i.size,
    "item:Importance": lambda i: i.importance,
    "item:Sensitivity": lambda i: i.sensitivity,
    "item:Categories": lambda i: list(i.categories),
    "item:HasAttachments": lambda i: i.has_attachments,
    "item:IsDraft": lambda i: i.is_draft,
    "item:IsFromMe": lambda i: i.is_from_me,
    "item:IsSubmitted": lambda i: i.is_submitted,
    "item:InReplyTo": lambda i: i.in_reply_to,
    "item:Body": lambda i: i.mime.decode("utf-8", "replace"),
    "item:DisplayTo": lambda i: "; ".join(a.name or a.email for a in i.to),
    "item:DisplayCc": lambda i: "; ".join(a.name or a.email for a in i.cc),
    "item:Flag": lambda i: i.flag.status,
    "message:IsRead": lambda i: i.is_read,
    "message:InternetMessageId": lambda i: i.message_id,
    "message:References": lambda i: i.references,
    "message:From": lambda i: [i.from_.email, i.from_.name] if i.from_ else [],
    "message:Sender": lambda i: [i.sender.email, i.sender.name] if i.sender else [],
    "message:ToRecipients": lambda i: _recipients(i, "to"),
    "message:CcRecipients": lambda i: _recipients(i, "cc"),
    "message:BccRecipients": lambda i: _recipients(i, "bcc"),
    "message:ConversationTopic": lambda i: i.subject,
}


def value_of(item: Item, path: Path) -> object:
    """The value ``path`` names on ``item`` (None when the item has none)."""
    if isinstance(path, FieldPath):
        getter = FIELDS.get(path.uri)
        return getter(item) if getter else None
    if path in item.extended:
        return item.extended[path]
    if path.tag is not None and path.tag in MAPI_TAGS:
        return MAPI_TAGS[path.tag](item)
    return None


def format_value(value: object) -> str:
    """Render a property value as EWS writes it."""
    if isinstance(value, bool):
        return fbool(value)
    if isinstance(value, datetime):
        return fdate(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    return str(value)

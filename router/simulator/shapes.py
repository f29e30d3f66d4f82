"""Response shapes: which properties an item or folder response carries, rendered in schema order.

The order of ``ITEM_ORDER`` and ``MESSAGE_ORDER`` is the order of ItemType and MessageType in
types.xsd; each renderer appends at most one element. Properties without a value are omitted, as
Exchange omits them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field

from router.simulator import mime
from router.simulator.attachment_mime import attachments_of
from router.simulator.model import Address, ExtendedKey, Folder, Item
from router.simulator.paths import FieldPath, Path, ext_attributes, format_value, parse_path, value_of
from router.simulator.store import Store
from router.simulator.xml import Element, add_strings, child, children, fbool, fdate, text_of, tsub

ID_ONLY = frozenset({"item:ItemId"})
DEFAULT = frozenset(
    {
        "item:ItemId",
        "item:Subject",
        "item:Sensitivity",
        "item:Body",
        "item:Attachments",
        "item:DateTimeReceived",
        "item:Size",
        "item:HasAttachments",
        "item:IsAssociated",
        "item:ResponseObjects",
        "message:ToRecipients",
        "message:CcRecipients",
        "message:IsReadReceiptRequested",
        "message:IsDeliveryReceiptRequested",
        "message:From",
        "message:IsRead",
    }
)
ALL = DEFAULT | {
    "item:ParentFolderId",
    "item:ItemClass",
    "item:Categories",
    "item:Importance",
    "item:InReplyTo",
    "item:IsSubmitted",
    "item:IsDraft",
    "item:IsFromMe",
    "item:IsResend",
    "item:IsUnmodified",
    "item:DateTimeSent",
    "item:DateTimeCreated",
    "item:DisplayCc",
    "item:DisplayTo",
    "item:LastModifiedTime",
    "item:ConversationId",
    "item:Flag",
    "message:Sender",
    "message:BccRecipients",
    "message:ConversationTopic",
    "message:InternetMessageId",
    "message:References",
    "message:ReplyTo",
    "message:ReceivedBy",
    "message:ReceivedRepresenting",
}
NOT_IN_FIND = frozenset(
    {
        "item:MimeContent",
        "item:Body",
        "item:Attachments",
        "item:InternetMessageHeaders",
        "item:UniqueBody",
        "item:TextBody",
        "message:BccRecipients",
    }
)
"""Properties FindItem cannot return. Named in AdditionalProperties they are refused
(ErrorInvalidPropertyRequest); implied by BaseShape Default or AllProperties (the EWS Managed API's
default) they are left out of the answer, as Exchange does."""


@dataclass
class ItemShape:
    """A parsed ItemResponseShapeType."""

    fields: set[str] = field(default_factory=lambda: set(ID_ONLY))
    extended: list[ExtendedKey] = field(default_factory=list)
    body_type: str = "Best"
    named: set[str] = field(default_factory=set)
    """Properties the request names itself (AdditionalProperties, IncludeMimeContent), not by BaseShape."""

    def for_find(self) -> ItemShape:
        """The shape FindItem answers with: what it cannot return is dropped from the base shape."""
        return ItemShape(self.fields - (NOT_IN_FIND - self.named), self.extended, self.body_type, self.named)

    @classmethod
    def parse(cls, el: Element | None) -> ItemShape:
        base = text_of(el, "BaseShape", "IdOnly")
        fields = set({"IdOnly": ID_ONLY, "Default": DEFAULT, "AllProperties": ALL}.get(base or "", ID_ONLY))
        shape = cls(fields, [], text_of(el, "BodyType", "Best") or "Best")
        if (text_of(el, "IncludeMimeContent") or "").lower() in ("true", "1"):
            shape.fields.add("item:MimeContent")
            shape.named.add("item:MimeContent")
        for path_el in children(child(el, "AdditionalProperties")):
            path = parse_path(path_el)
            if isinstance(path, FieldPath):
                shape.fields.add(path.uri)
                shape.named.add(path.uri)
            elif path is not None:
                shape.extended.append(path)
        return shape


class Renderer:
    """Renders items and folders for one request (knows the directory, for MailboxType)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def mailbox(self, parent: Element, name: str, addr: Address) -> Element:
        box = tsub(parent, name)
        user = self.store.user(addr.email)
        if addr.name or user:
            tsub(box, "Name", addr.name or (user.name if user else ""))
        tsub(box, "EmailAddress", user.address if user and user.key == addr.key else addr.email)
        tsub(box, "RoutingType", "SMTP")
        tsub(box, "MailboxType", "Mailbox" if user else "OneOff")
        return box

    def item(self, parent: Element, item: Item, shape: ItemShape) -> Element:
        el = tsub(parent, "Message")
        for uri, render in ITEM_ORDER:
            if uri in shape.fields:
                render(self, el, item, shape)
            if uri == "item:HasAttachments":
                self._extended(el, item, shape.extended)
        for uri, render in MESSAGE_ORDER:
            if uri in shape.fields:
                render(self, el, item, shape)
        return el

    def _extended(self, el: Element, item: Item, keys: list[ExtendedKey]) -> None:
        for key in keys:
            value = value_of(item, key)
            if value is None:
                continue
            prop = tsub(el, "ExtendedProperty")
            tsub(prop, "ExtendedFieldURI", **ext_attributes(key))
            if isinstance(value, list):
                values = tsub(prop, "Values")
                for v in value:
                    tsub(values, "Value", format_value(v))
            else:
                tsub(prop, "Value", format_value(value))

    def item_id(self, parent: Element, item: Item, name: str = "ItemId") -> Element:
        return tsub(parent, name, Id=item.ews_id, ChangeKey=item.change_key)

    def folder_id(self, parent: Element, folder: Folder, name: str = "FolderId") -> Element:
        return tsub(parent, name, Id=folder.ews_id, ChangeKey=folder.change_key)


Render = Callable[[Renderer, Element, Item, ItemShape], object]


def _text(name: str, get: Callable[[Item], object]) -> Render:
    def render(r: Renderer, el: Element, item: Item, shape: ItemShape) -> None:
        value = get(item)
        if value is not None and value != "":
            tsub(el, name, format_value(value))

    return render


def _mime(r: Renderer, el: Element, item: Item, shape: ItemShape) -> None:
    tsub(el, "MimeContent", item.mime_b64, CharacterSet="UTF-8")


def _body(r: Renderer, el: Element, item: Item, shape: ItemShape) -> None:
    text, html = mime.bodies(item.mime)
    if shape.body_type == "Text" or (shape.body_type == "Best" and html is None):
        tsub(el, "Body", text if text is not None else _strip_html(html or ""), BodyType="Text")
    else:
        tsub(el, "Body", html if html is not None else _html_of(text or ""), BodyType="HTML")


def _strip_html(html: str) -> str:
    import re

    return re.sub(r"<[^>]+>", "", html)


def _html_of(text: str) -> str:
    from html import escape

    return f"<html><body><pre>{escape(text)}</pre></body></html>"


def _attachments(r: Renderer, el: Element, item: Item, shape: ItemShape) -> None:
    found = attachments_of(item)
    if not found:
        return
    box = tsub(el, "Attachments")
    for att in found:
        from router.simulator import ids

        fa = tsub(box, "FileAttachment")
        tsub(fa, "AttachmentId", Id=ids.encode(ids.ObjectId(ids.IdKind.ATTACHMENT, att.uid)))
        tsub(fa, "Name", att.name)
        tsub(fa, "ContentType", att.content_type)
        if att.content_id:
            tsub(fa, "ContentId", att.content_id)
        tsub(fa, "Size", str(len(att.content)))
        tsub(fa, "IsInline", fbool(att.is_inline))


def _headers(r: Renderer, el: Element, item: Item, shape: ItemShape) -> None:
    box = tsub(el, "InternetMessageHeaders")
    for name, value in mime.headers(item.mime):
        tsub(box, "InternetMessageHeader", value, HeaderName=name)


def _categories(r: Renderer, el: Element, item: Item, shape: ItemShape) -> None:
    if item.categories:
        add_strings(el, "Categories", item.categories)


def _conversation(r: Renderer, el: Element, item: Item, shape: ItemShape) -> None:
    topic = _topic(item.subject)
    tsub(el, "ConversationId", Id="CID" + hashlib.sha1(topic.lower().encode()).hexdigest()[:32].upper())


def _topic(subject: str) -> str:
    s = subject
    while s[:3].upper() in ("RE:", "FW:") or s[:4].upper() == "FWD:":
        s = s.split(":", 1)[1].lstrip()
    return s


def _flag(r: Renderer, el: Element, item: Item, shape: ItemShape) -> None:
    f = tsub(el, "Flag")
    tsub(f, "FlagStatus", item.flag.status)
    for name, value in (
        ("StartDate", item.flag.start),
        ("DueDate", item.flag.due),
        ("CompleteDate", item.flag.complete),
    ):
        if value is not None:
            tsub(f, name, fdate(value))


def _single(name: str, get: Callable[[Item], Address | None]) -> Render:
    def render(r: Renderer, el: Element, item: Item, shape: ItemShape) -> None:
        addr = get(item)
        if addr is not None:
            r.mailbox(tsub(el, name), "Mailbox", addr)

    return render


def _many(name: str, get: Callable[[Item], list[Address]]) -> Render:
    def render(r: Renderer, el: Element, item: Item, shape: ItemShape) -> None:
        addrs = get(item)
        if addrs:
            box = tsub(el, name)
            for a in addrs:
                r.mailbox(box, "Mailbox", a)

    return render


def _received(item: Item) -> Address | None:
    if item.is_from_me or item.folder.distinguished in ("sentitems", "drafts", "outbox"):
        return None
    owner = item.folder.mailbox
    return Address(owner)


ITEM_ORDER: list[tuple[str, Render]] = [
    ("item:MimeContent", _mime),
    ("item:ItemId", lambda r, el, i, s: r.item_id(el, i)),
    ("item:ParentFolderId", lambda r, el, i, s: r.folder_id(el, i.folder, "ParentFolderId")),
    ("item:ItemClass", _text("ItemClass", lambda i: i.item_class)),
    ("item:Subject", _text("Subject", lambda i: i.subject)),
    ("item:Sensitivity", _text("Sensitivity", lambda i: i.sensitivity)),
    ("item:Body", _body),
    ("item:Attachments", _attachments),
    ("item:DateTimeReceived", _text("DateTimeReceived", lambda i: i.date_received)),
    ("item:Size", _text("Size", lambda i: i.size)),
    ("item:Categories", _categories),
    ("item:Importance", _text("Importance", lambda i: i.importance)),
    ("item:InReplyTo", _text("InReplyTo", lambda i: i.in_reply_to)),
    ("item:IsSubmitted", _text("IsSubmitted", lambda i: i.is_submitted)),
    ("item:IsDraft", _text("IsDraft", lambda i: i.is_draft)),
    ("item:IsFromMe", _text("IsFromMe", lambda i: i.is_from_me)),
    ("item:IsResend", _text("IsResend", lambda i: False)),
    ("item:IsUnmodified", _text("IsUnmodified", lambda i: i.version == 1)),
    ("item:InternetMessageHeaders", _headers),
    ("item:DateTimeSent", _text("DateTimeSent", lambda i: i.date_sent)),
    ("item:DateTimeCreated", _text("DateTimeCreated", lambda i: i.date_created)),
    ("item:DisplayCc", _text("DisplayCc", lambda i: "; ".join(a.name or a.email for a in i.cc))),
    ("item:DisplayTo", _text("DisplayTo", lambda i: "; ".join(a.name or a.email for a in i.to))),
    ("item:HasAttachments", _text("HasAttachments", lambda i: i.has_attachments)),
    ("item:LastModifiedTime", _text("LastModifiedTime", lambda i: i.last_modified)),
    ("item:IsAssociated", _text("IsAssociated", lambda i: False)),
    ("item:ConversationId", _conversation),
    ("item:Flag", _flag),
]
MESSAGE_ORDER: list[tuple[str, Render]] = [
    ("message:Sender", _single("Sender", lambda i: i.sender)),
    ("message:ToRecipients", _many("ToRecipients", lambda i: i.to)),
    ("message:CcRecipients", _many("CcRecipients", lambda i: i.cc)),
    ("message:BccRecipients", _many("BccRecipients", lambda i: i.bcc)),
    ("message:IsReadReceiptRequested", _text("IsReadReceiptRequested", lambda i: False)),
    ("message:IsDeliveryReceiptRequested", _text("IsDeliveryReceiptRequested", lambda i: False)),
    ("message:ConversationTopic", _text("ConversationTopic", lambda i: _topic(i.subject))),
    ("message:From", _single("From", lambda i: i.from_)),
    ("message:InternetMessageId", _text("InternetMessageId", lambda i: i.message_id)),
    ("message:IsRead", _text("IsRead", lambda i: i.is_read)),
    ("message:References", _text("References", lambda i: i.references)),
    ("message:ReplyTo", _many("ReplyTo", lambda i: i.reply_to)),
    ("message:ReceivedBy", _single("ReceivedBy", _received)),
    ("message:ReceivedRepresenting", _single("ReceivedRepresenting", _received)),
]


def paths_in(el: Element | None) -> list[Path]:
    """Parse every path element below ``el``."""
    out = []
    for c in children(el):
        p = parse_path(c)
        if p is not None:
            out.append(p)
    return out

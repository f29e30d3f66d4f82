"""File attachments one at a time: CreateAttachment, GetAttachment and DeleteAttachment.

Attachment ids carry the attachment's own uid; the answers name the root item and its new ChangeKey,
as Exchange's do. Adding or removing an attachment changes the item (new ChangeKey, a ModifiedEvent)
and rewrites its MIME (``attachment_mime``). Changing needs Editor rights on the item's folder (or
ownership); reading, Reviewer.
"""

from __future__ import annotations

import base64
import binascii
import uuid

from router.simulator import attachment_mime, ids
from router.simulator.model import Attachment, FolderLevel, Item
from router.simulator.operations.base import (
    MALFORMED,
    Ctx,
    ItemError,
    failed,
    operation,
    require,
    resolve_item,
    response_root,
    success,
)
from router.simulator.xml import Element, child, children, fbool, local, msub, text_of, tsub, xbool

NOT_FOUND = "The attachment could not be found."


def _find(ctx: Ctx, el: Element, need: FolderLevel) -> tuple[Item, Attachment]:
    try:
        oid = ids.decode(el.get("Id", ""))
    except ids.MalformedIdError as exc:
        raise ItemError("ErrorInvalidIdMalformed", MALFORMED) from exc
    found = ctx.store.attachment(oid.uid) if oid.kind is ids.IdKind.ATTACHMENT else None
    if found is None:
        raise ItemError("ErrorInvalidAttachmentId", NOT_FOUND)
    require(ctx, found[0].folder, need)
    return found


def _attachment_id(parent: Element, item: Item, att: Attachment) -> None:
    tsub(parent, "AttachmentId", Id=ids.encode(ids.ObjectId(ids.IdKind.ATTACHMENT, att.uid)),
         RootItemId=item.ews_id, RootItemChangeKey=item.change_key)


def _new(spec: Element) -> Attachment:
    try:
        content = base64.b64decode(text_of(spec, "Content", "") or "", validate=True)
    except binascii.Error as exc:
        raise ItemError("ErrorInvalidRequest", "FileAttachment Content is not valid base64.") from exc
    return Attachment(uuid.uuid4().bytes, text_of(spec, "Name", "attachment") or "attachment",
                      text_of(spec, "ContentType", "application/octet-stream") or "application/octet-stream",
                      content, text_of(spec, "ContentId"), xbool(text_of(spec, "IsInline")))


@operation("CreateAttachment")
def create_attachment(ctx: Ctx, req: Element) -> Element:
    root, msgs = response_root("CreateAttachment")
    specs = children(child(req, "Attachments"))
    try:
        parent = child(req, "ParentItemId")
        if parent is None:
            raise ItemError("ErrorInvalidRequest", "ParentItemId is missing.")
        item = resolve_item(ctx, parent, FolderLevel.EDITOR)
    except ItemError as err:
        for _ in specs:
            failed(msgs, "CreateAttachment", err)
        return root
    for spec in specs:
        try:
            if local(spec) != "FileAttachment":
                raise ItemError("ErrorInvalidRequest", "The simulator creates file attachments only.")
            att = _new(spec)
        except ItemError as err:
            failed(msgs, "CreateAttachment", err)
            continue
        with ctx.store.lock:
            item.attachments = [*attachment_mime.attachments_of(item), att]
            item.has_attachments = True
            item.set_mime(attachment_mime.with_attachment(item.mime, att))
            ctx.store.touch(item)
        box = msub(success(msgs, "CreateAttachment"), "Attachments")
        _attachment_id(tsub(box, "FileAttachment"), item, att)
    return root


@operation("GetAttachment")
def get_attachment(ctx: Ctx, req: Element) -> Element:
    root, msgs = response_root("GetAttachment")
    for el in children(child(req, "AttachmentIds")):
        try:
            item, att = _find(ctx, el, FolderLevel.REVIEWER)
        except ItemError as err:
            msub(failed(msgs, "GetAttachment", err), "Attachments")  # the schema requires it, even empty
            continue
        fa = tsub(msub(success(msgs, "GetAttachment"), "Attachments"), "FileAttachment")
        _attachment_id(fa, item, att)
        tsub(fa, "Name", att.name)
        tsub(fa, "ContentType", att.content_type)
        if att.content_id:
            tsub(fa, "ContentId", att.content_id)
        tsub(fa, "Size", str(len(att.content)))
        tsub(fa, "IsInline", fbool(att.is_inline))
        tsub(fa, "Content", base64.b64encode(att.content).decode("ascii"))
    return root


@operation("DeleteAttachment")
def delete_attachment(ctx: Ctx, req: Element) -> Element:
    root, msgs = response_root("DeleteAttachment")
    for el in children(child(req, "AttachmentIds")):
        try:
            item, att = _find(ctx, el, FolderLevel.EDITOR)
        except ItemError as err:
            failed(msgs, "DeleteAttachment", err)
            continue
        with ctx.store.lock:
            item.attachments = [a for a in item.attachments if a is not att]
            item.attachments_read = True
            item.has_attachments = bool(item.attachments)
            item.set_mime(attachment_mime.without_attachment(item.mime, att))
            ctx.store.touch(item)
        msub(success(msgs, "DeleteAttachment"), "RootItemId", RootItemId=item.ews_id,
             RootItemChangeKey=item.change_key)
    return root

"""UpdateItem: SetItemField / AppendToItemField / DeleteItemField with ChangeKey conflict handling.

Every successful update rotates the ChangeKey. A stale ChangeKey fails only under NeverOverwrite
(ErrorIrresolvableConflict); AutoResolve and AlwaysOverwrite apply the change, as Exchange does for
non-conflicting property sets. A read-flag-only change is recorded as such for SyncFolderItems.
"""

from __future__ import annotations

from router.simulator import mime
from router.simulator.itemdata import ItemDataError, parse_extended, parse_mailboxes, scalar_props, single
from router.simulator.model import ExtendedKey, Flag, FolderLevel, Item
from router.simulator.operations.base import (
    Ctx,
    ItemError,
    check_change_key,
    failed,
    operation,
    require,
    resolve_folder,
    resolve_item,
    response_root,
    success,
)
from router.simulator.paths import FieldPath, parse_path
from router.simulator.submission import submit
from router.simulator.xml import Element, child, children, local, msub, text_of, tsub

SCALARS = {
    "message:IsRead": "is_read",
    "item:Importance": "importance",
    "item:Sensitivity": "sensitivity",
    "item:ItemClass": "item_class",
    "item:Categories": "categories",
    "item:Flag": "flag",
}
ADDRESS_HEADERS = {
    "message:ToRecipients": ("To", "to"),
    "message:CcRecipients": ("Cc", "cc"),
    "message:BccRecipients": ("Bcc", "bcc"),
    "message:ReplyTo": ("Reply-To", "reply_to"),
}
TEXT_HEADERS = {
    "item:Subject": ("Subject", "subject"),
    "item:InReplyTo": ("In-Reply-To", "in_reply_to"),
    "message:References": ("References", "references"),
}
IGNORED = {
    "message:IsReadReceiptRequested",
    "message:IsDeliveryReceiptRequested",
    "message:IsResponseRequested",
    "item:ReminderIsSet",
    "item:ReminderMinutesBeforeStart",
    "item:ReminderDueBy",
}


def _path(update: Element) -> FieldPath | ExtendedKey:
    for c in children(update):
        path = parse_path(c)
        if path is not None:
            return path
    raise ItemError("ErrorInvalidPropertySet", "The update has no property path.")


def _apply_set(item: Item, path: FieldPath | ExtendedKey, msg: Element | None) -> bool:
    """Apply one SetItemField; return True when only the read flag changed."""
    if msg is None:
        raise ItemError("ErrorInvalidPropertySet", "SetItemField needs an item element holding the value.")
    if isinstance(path, ExtendedKey):
        ext = child(msg, "ExtendedProperty")
        if ext is None:
            raise ItemError(
                "ErrorInvalidPropertySet", "SetItemField for an extended property needs its value."
            )
        key, value = parse_extended(ext)
        item.extended[key] = value
        return False
    uri = path.uri
    if uri in SCALARS:
        try:
            props = scalar_props(msg)
        except (ValueError, ItemDataError) as err:
            raise ItemError("ErrorInvalidPropertySet", str(err)) from err
        setattr(item, SCALARS[uri], props.get(SCALARS[uri], getattr(item, SCALARS[uri])))
        return uri == "message:IsRead"
    if uri in ADDRESS_HEADERS:
        header, attr = ADDRESS_HEADERS[uri]
        addrs = parse_mailboxes(child(msg, uri.split(":", 1)[1]))
        setattr(item, attr, addrs)
        item.set_mime(mime.edit_headers(item.mime, set_=[(header, mime.format_addresses(addrs) or None)]))
        return False
    if uri == "message:From":
        addr = single(msg, "From")
        item.from_ = addr
        item.set_mime(
            mime.edit_headers(item.mime, set_=[("From", mime.format_address(addr) if addr else None)])
        )
        return False
    if uri in TEXT_HEADERS:
        header, attr = TEXT_HEADERS[uri]
        text = text_of(msg, uri.split(":", 1)[1])
        setattr(item, attr, text or ("" if attr == "subject" else None))
        item.set_mime(mime.edit_headers(item.mime, set_=[(header, text)]))
        return False
    if uri in IGNORED:
        return False
    raise ItemError("ErrorInvalidPropertySet", f"The property {uri} cannot be updated on this item.")


def _apply_delete(item: Item, path: FieldPath | ExtendedKey) -> None:
    if isinstance(path, ExtendedKey):
        item.extended.pop(path, None)
    elif path.uri == "item:Categories":
        item.categories = []
    elif path.uri == "item:Flag":
        item.flag = Flag()
    elif path.uri not in IGNORED:
        raise ItemError("ErrorInvalidPropertyDelete", f"The property {path.uri} cannot be deleted.")


def _update_one(ctx: Ctx, change: Element, resolution: str) -> Item:
    iid = child(change, "ItemId")
    if iid is None:
        raise ItemError("ErrorInvalidIdEmpty", "The ItemChange has no ItemId.")
    item = resolve_item(ctx, iid)
    if not check_change_key(item, iid) and resolution == "NeverOverwrite":
        raise ItemError(
            "ErrorIrresolvableConflict",
            "The send or update operation could not be performed "
            "because the change key passed in the request does not match the current change key "
            "for the item.",
        )
    updates = children(child(change, "Updates"))
    paths = [_path(u) for u in updates]
    read_only = all(isinstance(p, FieldPath) and p.uri == "message:IsRead" for p in paths)
    require(ctx, item.folder, FolderLevel.REVIEWER if read_only else FolderLevel.EDITOR)
    for update in updates:
        path = _path(update)
        if local(update) == "DeleteItemField":
            _apply_delete(item, path)
        else:
            item_el = next((c for c in children(update) if local(c) in ("Message", "Item")), None)
            _apply_set(item, path, item_el)
    ctx.store.touch(item, read_only=read_only and bool(updates))
    return item


@operation("UpdateItem")
def update_item(ctx: Ctx, req: Element) -> Element:
    resolution = req.get("ConflictResolution", "AutoResolve")
    disposition = req.get("MessageDisposition", "SaveOnly")
    root, msgs = response_root("UpdateItem")
    for change in children(child(req, "ItemChanges"), "ItemChange"):
        try:
            item = _update_one(ctx, change, resolution)
            if disposition in ("SendOnly", "SendAndSaveCopy"):
                _send(ctx, req, item, disposition)
                msub(success(msgs, "UpdateItem"), "Items")
                continue
        except ItemError as err:
            msub(failed(msgs, "UpdateItem", err), "Items")
            continue
        msg = success(msgs, "UpdateItem")
        ctx.renderer.item_id(tsub(msub(msg, "Items"), "Message"), item)
        tsub(msub(msg, "ConflictResults"), "Count", "0")
    return root


def _send(ctx: Ctx, req: Element, item: Item, disposition: str) -> None:
    save_to = None
    if disposition == "SendAndSaveCopy":
        holder = children(child(req, "SavedItemFolderId"))
        save_to = (
            resolve_folder(ctx, holder[0])
            if holder
            else ctx.store.distinguished(ctx.user.address, "sentitems")
        )
    outcome = submit(ctx.store, ctx.user, item, save_to=save_to, max_bytes=ctx.config.max_message_bytes)
    if outcome.code is not None:
        raise ItemError(outcome.code, outcome.message)

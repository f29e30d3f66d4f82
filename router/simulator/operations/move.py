"""MoveItem, CopyItem and DeleteItem (HardDelete / SoftDelete / MoveToDeletedItems)."""

from __future__ import annotations

from router.simulator.model import FolderLevel
from router.simulator.operations.base import (
    Ctx,
    ItemError,
    failed,
    operation,
    require,
    resolve_folder,
    resolve_item,
    response_root,
    success,
)
from router.simulator.xml import Element, child, children, msub, text_of, tsub, xbool


def _move_or_copy(ctx: Ctx, req: Element, name: str) -> Element:
    root, msgs = response_root(name)
    return_ids = xbool(text_of(req, "ReturnNewItemIds"), True)
    try:
        dest = resolve_folder(ctx, children(child(req, "ToFolderId"))[0])
        require(ctx, dest, FolderLevel.AUTHOR)
    except ItemError as err:
        for _ in children(child(req, "ItemIds")):
            msub(failed(msgs, name, err), "Items")
        return root
    for iid in children(child(req, "ItemIds")):
        try:
            item = resolve_item(ctx, iid, FolderLevel.EDITOR if name == "MoveItem" else FolderLevel.REVIEWER)
        except ItemError as err:
            msub(failed(msgs, name, err), "Items")
            continue
        new = ctx.store.move(item, dest) if name == "MoveItem" else ctx.store.copy(item, dest)
        items = msub(success(msgs, name), "Items")
        if return_ids:
            ctx.renderer.item_id(tsub(items, "Message"), new)
    return root


@operation("MoveItem")
def move_item(ctx: Ctx, req: Element) -> Element:
    return _move_or_copy(ctx, req, "MoveItem")


@operation("CopyItem")
def copy_item(ctx: Ctx, req: Element) -> Element:
    return _move_or_copy(ctx, req, "CopyItem")


@operation("DeleteItem")
def delete_item(ctx: Ctx, req: Element) -> Element:
    mode = req.get("DeleteType", "MoveToDeletedItems")
    root, msgs = response_root("DeleteItem")
    for iid in children(child(req, "ItemIds")):
        try:
            item = resolve_item(ctx, iid, FolderLevel.EDITOR)
        except ItemError as err:
            failed(msgs, "DeleteItem", err)
            continue
        deleted = ctx.store.distinguished(item.mailbox, "deleteditems")
        dumpster = ctx.store.distinguished(item.mailbox, "recoverableitemsdeletions")
        if mode == "HardDelete" or dumpster is None or deleted is None:
            ctx.store.delete(item)
        elif mode == "SoftDelete" or item.folder is deleted:
            ctx.store.move(item, dumpster)
        else:
            ctx.store.move(item, deleted)
        success(msgs, "DeleteItem")
    return root

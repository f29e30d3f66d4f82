"""SyncFolderItems: the net changes of one folder since an opaque, signed SyncState."""

from __future__ import annotations

from router.simulator import ids
from router.simulator.changes import ChangeKind
from router.simulator.model import Folder, FolderLevel
from router.simulator.operations.base import (
    Ctx,
    ItemError,
    failed,
    operation,
    require,
    resolve_folder,
    response_root,
    success,
)
from router.simulator.shapes import ItemShape
from router.simulator.xml import Element, child, children, fbool, msub, text_of, tsub

INVALID_STATE = "Synchronization state data is corrupt or otherwise invalid."


def _seen(ctx: Ctx, folder: Folder, state: str | None) -> int:
    if not state:
        return 0
    try:
        payload = ctx.store.signer.verify("items", state)
    except ids.InvalidTokenError as exc:
        raise ItemError("ErrorInvalidSyncStateData", INVALID_STATE) from exc
    if payload.get("f") != folder.ews_id or not isinstance(payload.get("s"), int):
        raise ItemError("ErrorInvalidSyncStateData", INVALID_STATE)
    seen = payload["s"]
    assert isinstance(seen, int)
    return seen


@operation("SyncFolderItems")
def sync_folder_items(ctx: Ctx, req: Element) -> Element:
    shape = ItemShape.parse(child(req, "ItemShape"))
    root, msgs = response_root("SyncFolderItems")
    try:
        folder = resolve_folder(ctx, children(child(req, "SyncFolderId"))[0])
        require(ctx, folder, FolderLevel.REVIEWER)
        seen = _seen(ctx, folder, text_of(req, "SyncState"))
        limit = int(text_of(req, "MaxChangesReturned", "100") or "100")
        if not 1 <= limit <= 512:
            raise ItemError("ErrorInvalidArgument", "MaxChangesReturned must be between 1 and 512.")
    except ItemError as err:
        failed(msgs, "SyncFolderItems", err)
        return root
    ignore = {el.get("Id") for el in children(child(req, "Ignore"))}
    pending = [c for c in folder.changes.since(seen)]
    batch = pending[:limit]
    last = batch[-1].seq if len(pending) > limit else ctx.store.mailboxes[folder.mailbox].seq
    msg = success(msgs, "SyncFolderItems")
    msub(msg, "SyncState", ctx.store.signer.sign("items", {"f": folder.ews_id, "s": last}))
    msub(msg, "IncludesLastItemInRange", fbool(len(pending) <= limit))
    changes = msub(msg, "Changes")
    for change in batch:
        uid_id = ids.encode(ids.ObjectId(ids.IdKind.ITEM, change.uid))
        if uid_id in ignore:
            continue
        item = folder.items.get(change.uid)
        if change.kind is ChangeKind.DELETE or item is None:
            tsub(tsub(changes, "Delete"), "ItemId", Id=uid_id)
        elif change.kind is ChangeKind.READ_FLAG:
            rf = tsub(changes, "ReadFlagChange")
            ctx.renderer.item_id(rf, item)
            tsub(rf, "IsRead", fbool(item.is_read))
        else:
            ctx.renderer.item(tsub(changes, change.kind.value), item, shape)
    return root

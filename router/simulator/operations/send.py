"""Creating and sending: CreateItem (SaveOnly / SendOnly / SendAndSaveCopy) and SendItem.

Sending runs the server-side submission check (submission.submit): the caller's rights on the From
mailbox decide between Send As, Send On Behalf and ErrorSendAsDenied.
"""

from __future__ import annotations

from typing import Any

from router.simulator.itemdata import ItemDataError, parse_message
from router.simulator.model import Folder, FolderLevel, Item
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
from router.simulator.submission import submit
from router.simulator.xml import Element, child, children, local, msub, tsub, xbool


def _saved_folder(ctx: Ctx, req: Element, default: str) -> Folder:
    holder = children(child(req, "SavedItemFolderId"))
    if holder:
        folder = resolve_folder(ctx, holder[0])
    else:
        found = ctx.store.distinguished(ctx.user.address, default)
        assert found is not None
        folder = found
    require(ctx, folder, FolderLevel.AUTHOR)
    return folder


def _store_message(ctx: Ctx, msg: Element, folder: Folder, *, draft: bool) -> Item:
    try:
        data = parse_message(msg, date_source=ctx.store.clock.now())
    except ItemDataError as err:
        raise ItemError("ErrorInvalidPropertySet", str(err)) from err
    if len(data.mime) > ctx.config.max_message_bytes:
        raise ItemError("ErrorMessageSizeExceeded", "The message exceeds the maximum supported size.")
    props: dict[str, Any] = {"is_draft": draft, "is_read": draft, **data.props}
    item = ctx.store.add_item(
        folder, data.mime, extended=data.extended, attachments=data.attachments, **props
    )
    if draft:
        item.is_from_me = True
    return item


def _send(ctx: Ctx, item: Item, save_to: Folder | None) -> None:
    outcome = submit(ctx.store, ctx.user, item, save_to=save_to, max_bytes=ctx.config.max_message_bytes)
    if outcome.code is not None:
        raise ItemError(outcome.code, outcome.message)


@operation("CreateItem")
def create_item(ctx: Ctx, req: Element) -> Element:
    disposition = req.get("MessageDisposition", "SaveOnly")
    root, msgs = response_root("CreateItem")
    for msg in children(child(req, "Items")):
        try:
            if local(msg) not in ("Message", "Item"):
                raise ItemError(
                    "ErrorInvalidItemForOperationCreateItem",
                    f"The simulator stores only messages; '{local(msg)}' is not supported.",
                )
            _create_one(ctx, req, msg, disposition, msgs)
        except ItemError as err:
            msub(failed(msgs, "CreateItem", err), "Items")
    return root


def _create_one(ctx: Ctx, req: Element, msg: Element, disposition: str, msgs: Element) -> None:
    if disposition == "SaveOnly":
        folder = _saved_folder(ctx, req, "drafts")
        item = _store_message(ctx, msg, folder, draft=folder.distinguished in ("drafts", "outbox"))
        ctx.renderer.item_id(tsub(msub(success(msgs, "CreateItem"), "Items"), "Message"), item)
        return
    save_to = _saved_folder(ctx, req, "sentitems") if disposition == "SendAndSaveCopy" else None
    source = save_to.mailbox if save_to is not None else ctx.user.key
    drafts = ctx.store.distinguished(source, "drafts")
    assert drafts is not None
    item = _store_message(ctx, msg, drafts, draft=True)
    _send(ctx, item, save_to)
    msub(success(msgs, "CreateItem"), "Items")


@operation("SendItem")
def send_item(ctx: Ctx, req: Element) -> Element:
    root, msgs = response_root("SendItem")
    save = xbool(req.get("SaveItemToFolder"), True)
    for iid in children(child(req, "ItemIds")):
        try:
            item = resolve_item(ctx, iid, FolderLevel.AUTHOR)
            if not check_change_key(item, iid):
                raise ItemError(
                    "ErrorStaleObject",
                    "The change key passed in the request does not match the "
                    "current change key for the item.",
                )
            save_to = _saved_folder(ctx, req, "sentitems") if save else None
            _send(ctx, item, save_to)
        except ItemError as err:
            failed(msgs, "SendItem", err)
            continue
        success(msgs, "SendItem")
    return root

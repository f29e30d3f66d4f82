"""Changing folders: CreateFolder, UpdateFolder (the display name) and DeleteFolder.

As Exchange: a name already used below the same parent is ErrorFolderExists; a distinguished folder
cannot be deleted (ErrorDeleteDistinguishedFolder) nor renamed here; changing a folder needs the
owner or a delegate with Editor rights on the folder concerned. ``MoveToDeletedItems`` moves the
folder below Deleted Items; ``SoftDelete`` and ``HardDelete`` remove it with everything it holds.
"""

from __future__ import annotations

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
from router.simulator.xml import Element, child, children, local, msub, text_of, tsub

EXISTS = "A folder with the specified name already exists."


def _folder_id(parent: Element, folder: Folder) -> None:
    box = tsub(msub(parent, "Folders"), "Folder")
    tsub(box, "FolderId", Id=folder.ews_id, ChangeKey=folder.change_key)


def _target(ctx: Ctx, req: Element, name: str) -> Folder:
    holder = child(req, name)
    ids = children(holder)
    if len(ids) != 1:
        raise ItemError("ErrorInvalidRequest", f"{name} must hold one folder id.")
    return resolve_folder(ctx, ids[0])


def _check_name(parent: Folder, name: str | None, skip: Folder | None = None) -> str:
    if not name or not name.strip():
        raise ItemError("ErrorInvalidPropertySet", "A folder needs a display name.")
    if any(c.name.lower() == name.lower() and c is not skip for c in parent.children):
        raise ItemError("ErrorFolderExists", EXISTS)
    return name


@operation("CreateFolder")
def create_folder(ctx: Ctx, req: Element) -> Element:
    root, msgs = response_root("CreateFolder")
    try:
        parent = _target(ctx, req, "ParentFolderId")
        require(ctx, parent, FolderLevel.EDITOR)
    except ItemError as err:
        for _ in children(child(req, "Folders")) or [req]:
            failed(msgs, "CreateFolder", err)
        return root
    for spec in children(child(req, "Folders")):
        try:
            name = _check_name(parent, text_of(spec, "DisplayName"))
            folder_class = text_of(spec, "FolderClass") or ("IPF.Note" if local(spec) == "Folder" else None)
            folder = ctx.store.create_folder(parent, name, folder_class)
        except ItemError as err:
            failed(msgs, "CreateFolder", err)
            continue
        _folder_id(success(msgs, "CreateFolder"), folder)
    return root


@operation("UpdateFolder")
def update_folder(ctx: Ctx, req: Element) -> Element:
    root, msgs = response_root("UpdateFolder")
    for change in children(child(req, "FolderChanges")):
        try:
            ids = [c for c in children(change) if local(c) in ("FolderId", "DistinguishedFolderId")]
            folder = resolve_folder(ctx, ids[0]) if ids else None
            if folder is None:
                raise ItemError("ErrorInvalidRequest", "A FolderChange must name a folder.")
            require(ctx, folder, FolderLevel.EDITOR)
            _apply(ctx, folder, children(child(change, "Updates")))
        except ItemError as err:
            failed(msgs, "UpdateFolder", err)
            continue
        _folder_id(success(msgs, "UpdateFolder"), folder)
    return root


def _apply(ctx: Ctx, folder: Folder, updates: list[Element]) -> None:
    for update in updates:
        paths = [c for c in children(update) if local(c) == "FieldURI"]
        uri = paths[0].get("FieldURI") if paths else None
        if local(update) != "SetFolderField" or uri != "folder:DisplayName":
            raise ItemError("ErrorInvalidPropertySet",
                            f"The simulator changes only folder:DisplayName with SetFolderField, not {uri}.")
        if folder.distinguished is not None:
            raise ItemError("ErrorInvalidPropertySet", "A distinguished folder cannot be renamed.")
        values = [c for c in children(update) if local(c) != "FieldURI"]
        name = text_of(values[0], "DisplayName") if values else None
        assert folder.parent is not None
        ctx.store.rename_folder(folder, _check_name(folder.parent, name, skip=folder))


@operation("DeleteFolder")
def delete_folder(ctx: Ctx, req: Element) -> Element:
    root, msgs = response_root("DeleteFolder")
    how = req.get("DeleteType", "MoveToDeletedItems")
    for fid in children(child(req, "FolderIds")):
        try:
            folder = resolve_folder(ctx, fid)
            require(ctx, folder, FolderLevel.EDITOR)
            if folder.distinguished is not None or folder.parent is None:
                raise ItemError("ErrorDeleteDistinguishedFolder", "Distinguished folders cannot be deleted.")
            _delete(ctx, folder, how)
        except ItemError as err:
            failed(msgs, "DeleteFolder", err)
            continue
        success(msgs, "DeleteFolder")
    return root


def _delete(ctx: Ctx, folder: Folder, how: str) -> None:
    if how != "MoveToDeletedItems":
        ctx.store.remove_folder(folder)
        return
    bin_ = ctx.store.distinguished(folder.mailbox, "deleteditems")
    assert bin_ is not None
    _check_name(bin_, folder.name)
    ctx.store.reparent_folder(folder, bin_)

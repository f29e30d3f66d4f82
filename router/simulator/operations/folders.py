"""Folder operations: GetFolder, FindFolder, SyncFolderHierarchy."""

from __future__ import annotations

from dataclasses import dataclass

from router.simulator.folder_props import folder_value
from router.simulator.model import ExtendedKey, Folder
from router.simulator.operations.base import (
    Ctx,
    ItemError,
    failed,
    operation,
    owner_of,
    resolve_folder,
    response_root,
    success,
)
from router.simulator.paths import FieldPath, ext_attributes, format_value, parse_path
from router.simulator.permissions import can_see_folder, folder_level
from router.simulator.xml import Element, child, children, fbool, msub, text_of, tsub

FOLDER_DEFAULT = {
    "folder:FolderId",
    "folder:DisplayName",
    "folder:TotalCount",
    "folder:ChildFolderCount",
    "folder:UnreadCount",
}
FOLDER_ALL = FOLDER_DEFAULT | {
    "folder:ParentFolderId",
    "folder:FolderClass",
    "folder:EffectiveRights",
    "folder:DistinguishedFolderId",
}
ELEMENT_FOR_CLASS = {
    "IPF.Appointment": "CalendarFolder",
    "IPF.Contact": "ContactsFolder",
    "IPF.Task": "TasksFolder",
}


@dataclass(frozen=True)
class FolderShape:
    """A parsed FolderResponseShapeType: field URIs, and extended properties asked for by tag."""

    fields: frozenset[str]
    extended: tuple[ExtendedKey, ...] = ()

    def __contains__(self, uri: object) -> bool:
        return uri in self.fields

    def __or__(self, more: set[str]) -> FolderShape:
        return FolderShape(self.fields | more, self.extended)


def folder_shape(el: Element | None) -> FolderShape:
    base = text_of(el, "BaseShape", "IdOnly")
    fields = {"folder:FolderId"} | (
        FOLDER_DEFAULT if base == "Default" else FOLDER_ALL if base == "AllProperties" else set()
    )
    extended: list[ExtendedKey] = []
    for p in children(child(el, "AdditionalProperties")):
        path = parse_path(p)
        if isinstance(path, FieldPath):
            fields.add(path.uri)
        elif path is not None:
            extended.append(path)
    return FolderShape(frozenset(fields), tuple(extended))


def _extended(el: Element, folder: Folder, keys: tuple[ExtendedKey, ...]) -> None:
    for key in keys:
        value = folder_value(folder, key)
        if value is None:
            continue
        prop = tsub(el, "ExtendedProperty")
        tsub(prop, "ExtendedFieldURI", **ext_attributes(key))
        tsub(prop, "Value", format_value(value))


def render_folder(ctx: Ctx, parent: Element, folder: Folder, fields: FolderShape) -> Element:
    """Append a folder element in BaseFolderType / FolderType order."""
    kind = ELEMENT_FOR_CLASS.get(folder.folder_class or "", "Folder")
    el = tsub(parent, kind)
    ctx.renderer.folder_id(el, folder)
    if "folder:ParentFolderId" in fields and folder.parent is not None:
        ctx.renderer.folder_id(el, folder.parent, "ParentFolderId")
    if "folder:FolderClass" in fields and folder.folder_class:
        tsub(el, "FolderClass", folder.folder_class)
    if "folder:DisplayName" in fields:
        tsub(el, "DisplayName", folder.name)
    if "folder:TotalCount" in fields:
        tsub(el, "TotalCount", str(len(folder.items)))
    if "folder:ChildFolderCount" in fields:
        tsub(el, "ChildFolderCount", str(sum(1 for c in folder.children if not c.hidden)))
    _extended(el, folder, fields.extended)
    if "folder:EffectiveRights" in fields:
        _rights(ctx, el, folder)
    if "folder:DistinguishedFolderId" in fields and folder.distinguished and ctx.config.build.minor >= 1:
        tsub(el, "DistinguishedFolderId", folder.distinguished)
    if "folder:UnreadCount" in fields and kind in ("Folder", "TasksFolder"):
        tsub(el, "UnreadCount", str(folder.unread))
    return el


def _rights(ctx: Ctx, el: Element, folder: Folder) -> None:
    level = folder_level(ctx.user, owner_of(ctx, folder), folder).rank
    rights = tsub(el, "EffectiveRights")
    for name, ok in (
        ("CreateAssociated", level >= 3),
        ("CreateContents", level >= 2),
        ("CreateHierarchy", level >= 3),
        ("Delete", level >= 3),
        ("Modify", level >= 3),
        ("Read", level >= 1),
        ("ViewPrivateItems", level >= 3),
    ):
        tsub(rights, name, fbool(ok))


@operation("GetFolder")
def get_folder(ctx: Ctx, req: Element) -> Element:
    fields = folder_shape(child(req, "FolderShape"))
    root, msgs = response_root("GetFolder")
    for fid in children(child(req, "FolderIds")):
        try:
            folder = resolve_folder(ctx, fid)
        except ItemError as err:
            failed(msgs, "GetFolder", err)
            continue
        msg = success(msgs, "GetFolder")
        render_folder(ctx, msub(msg, "Folders"), folder, fields)
    return root


def _descendants(folder: Folder, deep: bool) -> list[Folder]:
    out: list[Folder] = []
    for c in folder.children:
        if c.hidden:
            continue
        out.append(c)
        if deep:
            out.extend(_descendants(c, True))
    return out


@operation("FindFolder")
def find_folder(ctx: Ctx, req: Element) -> Element:
    fields = folder_shape(child(req, "FolderShape"))
    deep = req.get("Traversal") == "Deep"
    view = child(req, "IndexedPageFolderView")
    root, msgs = response_root("FindFolder")
    for fid in children(child(req, "ParentFolderIds")):
        try:
            parent = resolve_folder(ctx, fid)
        except ItemError as err:
            failed(msgs, "FindFolder", err)
            continue
        found = [f for f in _descendants(parent, deep) if can_see_folder(ctx.user, owner_of(ctx, f), f)]
        offset = int(view.get("Offset", "0")) if view is not None else 0
        limit = int(view.get("MaxEntriesReturned", str(len(found)))) if view is not None else len(found)
        page = found[offset : offset + limit]
        msg = success(msgs, "FindFolder")
        rf = msub(
            msg,
            "RootFolder",
            IndexedPagingOffset=str(offset + len(page)),
            TotalItemsInView=str(len(found)),
            IncludesLastItemInRange=fbool(offset + len(page) >= len(found)),
        )
        box = tsub(rf, "Folders")
        for f in page:
            render_folder(ctx, box, f, fields)
    return root


@operation("SyncFolderHierarchy")
def sync_folder_hierarchy(ctx: Ctx, req: Element) -> Element:
    fields = folder_shape(child(req, "FolderShape"))
    root, msgs = response_root("SyncFolderHierarchy")
    ids_in = children(child(req, "SyncFolderId"))
    sync_id = ids_in[0] if ids_in else None
    try:
        top = (
            resolve_folder(ctx, sync_id)
            if sync_id is not None
            else ctx.store.distinguished(ctx.user.address, "msgfolderroot")
        )
        assert top is not None
        known = _known_folders(ctx, text_of(req, "SyncState"), top)
    except ItemError as err:
        failed(msgs, "SyncFolderHierarchy", err)
        return root
    current = _descendants(top, True)
    msg = success(msgs, "SyncFolderHierarchy")
    state = ctx.store.signer.sign("hier", {"f": top.ews_id, "s": sorted(f.ews_id for f in current)})
    msub(msg, "SyncState", state)
    msub(msg, "IncludesLastFolderInRange", "true")
    changes = msub(msg, "Changes")
    ids_now = {f.ews_id for f in current}
    for f in current:
        if f.ews_id not in known:
            render_folder(
                ctx,
                tsub(changes, "Create"),
                f,
                fields | {"folder:ParentFolderId", "folder:DisplayName", "folder:FolderClass"},
            )
    for gone in sorted(known - ids_now):
        tsub(tsub(changes, "Delete"), "FolderId", Id=gone)
    return root


def _known_folders(ctx: Ctx, state: str | None, top: Folder) -> set[str]:
    if not state:
        return set()
    from router.simulator import ids

    try:
        payload = ctx.store.signer.verify("hier", state)
    except ids.InvalidTokenError as exc:
        raise ItemError(
            "ErrorInvalidSyncStateData", "Synchronization state data is corrupt or otherwise invalid."
        ) from exc
    if payload.get("f") != top.ews_id:
        raise ItemError(
            "ErrorInvalidSyncStateData", "Synchronization state data is corrupt or otherwise invalid."
        )
    known = payload.get("s")
    return set(known) if isinstance(known, list) else set()

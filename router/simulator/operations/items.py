"""Reading items: FindItem (paging, sort, restriction) and GetItem (shapes, MIME, extended properties)."""

from __future__ import annotations

from datetime import UTC, datetime

from router.simulator.model import Folder, FolderLevel, Item
from router.simulator.operations.base import (
    Ctx,
    ItemError,
    failed,
    failure,
    operation,
    require,
    resolve_folder,
    resolve_item,
    response_root,
    success,
)
from router.simulator.paths import Path, parse_path, value_of
from router.simulator.restriction import RestrictionError, compile_restriction
from router.simulator.shapes import NOT_IN_FIND, ItemShape
from router.simulator.xml import Element, child, children, fbool, msub, text_of, tsub

_EPOCH = datetime(1, 1, 1, tzinfo=UTC)


def _sort_key(value: object) -> tuple[int, object]:
    if value is None:
        return (0, "")
    if isinstance(value, list):
        return (1, " ".join(str(v) for v in value).lower())
    if isinstance(value, str):
        return (1, value.lower())
    return (1, value)


def _sorted(items: list[Item], order: Element | None) -> list[Item]:
    """Apply m:SortOrder (last key first, stable), default newest received first."""
    keys: list[tuple[Path, bool]] = []
    for fo in children(order, "FieldOrder"):
        path = next((p for p in (parse_path(c) for c in children(fo)) if p is not None), None)
        if path is not None:
            keys.append((path, fo.get("Order") == "Descending"))
    if not keys:
        return sorted(items, key=lambda i: i.date_received or _EPOCH, reverse=True)
    out = list(items)
    for path, desc in reversed(keys):
        out.sort(key=lambda i, p=path: _sort_key(value_of(i, p)), reverse=desc)  # type: ignore[misc]
    return out


def _query(items: list[Item], query: str | None) -> list[Item]:
    if not query:
        return items
    words = [w.lower() for w in query.split() if ":" not in w] or [query.split(":", 1)[1].lower()]
    return [
        i
        for i in items
        if all(w in (i.subject + " " + i.mime.decode("utf-8", "replace")).lower() for w in words)
    ]


def _page(req: Element, total: int) -> tuple[int, int, dict[str, str]]:
    """Return (offset, count, RootFolder paging attributes) for the request's paging view."""
    view = child(req, "IndexedPageItemView")
    if view is not None:
        limit = int(view.get("MaxEntriesReturned", str(total)))
        offset = int(view.get("Offset", "0"))
        if view.get("BasePoint") == "End":
            offset = max(total - offset - limit, 0)
        count = max(min(limit, total - offset), 0)
        return offset, count, {"IndexedPagingOffset": str(offset + count)}
    frac = child(req, "FractionalPageItemView")
    if frac is not None:
        num, den = int(frac.get("Numerator", "0")), max(int(frac.get("Denominator", "1")), 1)
        offset = total * num // den
        count = max(min(int(frac.get("MaxEntriesReturned", str(total))), total - offset), 0)
        return offset, count, {"NumeratorOffset": str(offset + count), "AbsoluteDenominator": str(total)}
    return 0, total, {"IndexedPagingOffset": str(total)}


def _candidates(ctx: Ctx, folder: Folder, traversal: str) -> list[Item]:
    if traversal == "Associated":
        return []
    if traversal == "SoftDeleted":
        dumpster = ctx.store.distinguished(folder.mailbox, "recoverableitemsdeletions")
        return list(dumpster.items.values()) if dumpster else []
    return list(folder.items.values())


@operation("FindItem")
def find_item(ctx: Ctx, req: Element) -> Element:
    asked = ItemShape.parse(child(req, "ItemShape"))
    root, msgs = response_root("FindItem")
    bad = sorted(asked.named & NOT_IN_FIND)
    shape = asked.for_find()
    try:
        match = compile_restriction(child(req, "Restriction"))
    except RestrictionError as err:
        for _ in children(child(req, "ParentFolderIds")):
            failure(
                msgs, "FindItem", "ErrorUnsupportedQueryFilter", f"The restriction is not supported: {err}"
            )
        return root
    for fid in children(child(req, "ParentFolderIds")):
        if bad:
            failure(
                msgs,
                "FindItem",
                "ErrorInvalidPropertyRequest",
                f"The property {bad[0]} can't be used in FindItem requests.",
            )
            continue
        try:
            folder = resolve_folder(ctx, fid)
            require(ctx, folder, FolderLevel.REVIEWER)
        except ItemError as err:
            failed(msgs, "FindItem", err)
            continue
        found = _sorted(
            _query(
                [i for i in _candidates(ctx, folder, req.get("Traversal", "Shallow")) if match(i)],
                text_of(req, "QueryString"),
            ),
            child(req, "SortOrder"),
        )
        offset, count, paging = _page(req, len(found))
        msg = success(msgs, "FindItem")
        rf = msub(
            msg,
            "RootFolder",
            **paging,
            TotalItemsInView=str(len(found)),
            IncludesLastItemInRange=fbool(offset + count >= len(found)),
        )
        box = tsub(rf, "Items")
        for item in found[offset : offset + count]:
            ctx.renderer.item(box, item, shape)
    return root


@operation("GetItem")
def get_item(ctx: Ctx, req: Element) -> Element:
    shape = ItemShape.parse(child(req, "ItemShape"))
    root, msgs = response_root("GetItem")
    for iid in children(child(req, "ItemIds")):
        try:
            item = resolve_item(ctx, iid)
        except ItemError as err:
            msub(failed(msgs, "GetItem", err), "Items")
            continue
        msg = success(msgs, "GetItem")
        ctx.renderer.item(msub(msg, "Items"), item, shape)
    return root

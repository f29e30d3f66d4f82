"""Reading and acknowledging messages: delta, list/search, get, ``$value``, PATCH, move, delete.

Delta tokens are signed like the EWS face's sync states and hold "the highest change sequence the
client has seen" of the folder, so the net change since then is computed, not replayed. A token that is
not genuine, or names another folder, answers 410 ``SyncStateNotFound`` as Graph does for an expired one.
"""

from __future__ import annotations

import re
from urllib.parse import quote, urlencode

from router.simulator import ids
from router.simulator.changes import ChangeKind
from router.simulator.graph import resources
from router.simulator.graph.context import GraphCtx, GraphResponse
from router.simulator.graph.resources import GraphError
from router.simulator.model import Folder

DEFAULT_PAGE = 10
MAX_PAGE = 1000
SYNC_GONE = GraphError(
    410, "SyncStateNotFound", "The sync state generation was not found. Restart the synchronization."
)
FILTER = re.compile(r"^\s*internetMessageId\s+eq\s+'((?:[^']|'')*)'\s*$", re.IGNORECASE)
PATCHABLE = {"categories", "isRead"}


def _page_size(ctx: GraphCtx) -> int:
    match = re.search(r"odata\.maxpagesize\s*=\s*(\d+)", ctx.headers.get("prefer", ""))
    return max(1, min(int(match.group(1)), MAX_PAGE)) if match else DEFAULT_PAGE


def _token(ctx: GraphCtx, folder: Folder) -> tuple[int, int, list[str] | None]:
    """(seen, after, select) from $deltatoken / $skiptoken; (0, 0, $select) for a first sync."""
    text = ctx.query.get("$skiptoken") or ctx.query.get("$deltatoken")
    if not text:
        return 0, 0, ctx.select()
    try:
        payload = ctx.store.signer.verify("graph-delta", text)
    except (ids.InvalidTokenError, ValueError) as exc:
        raise SYNC_GONE from exc
    seen, after, select = payload.get("s"), payload.get("a"), payload.get("sel")
    if payload.get("f") != folder.uid.hex() or not isinstance(seen, int) or not isinstance(after, int):
        raise SYNC_GONE
    return seen, after, [str(s) for s in select] if isinstance(select, list) else None


def delta(ctx: GraphCtx) -> GraphResponse:
    """``mailFolders/{f}/messages/delta``: one page of net changes, then a nextLink or a deltaLink."""
    folder = ctx.folder(ctx.params["folder"])
    seen, after, select = _token(ctx, folder)
    size = _page_size(ctx)
    pending = [c for c in folder.changes.since(seen) if c.seq > after]
    page = pending[:size]
    values: list[dict[str, object]] = []
    for change in page:
        item = folder.items.get(change.uid)
        if change.kind is ChangeKind.DELETE or item is None:
            gone = resources.message_id_of(change.uid)
            values.append(
                {"@odata.type": "#microsoft.graph.message", "id": gone, "@removed": {"reason": "deleted"}}
            )
        else:
            values.append({"@odata.type": "#microsoft.graph.message", **resources.message(item, select)})
    user = quote(ctx.user.address)
    link = f"{ctx.base}/v1.0/users/{user}/mailFolders('{ctx.params['folder']}')/messages/delta"
    payload: dict[str, object] = {"f": folder.uid.hex(), "sel": select}
    data: dict[str, object] = {
        "@odata.context": f"{ctx.base}/v1.0/$metadata#Collection(message)",
        "value": values,
    }
    if len(pending) > size:
        token = ctx.store.signer.sign("graph-delta", {**payload, "s": seen, "a": page[-1].seq})
        data["@odata.nextLink"] = f"{link}?{urlencode({'$skiptoken': token})}"
    else:
        last = ctx.store.mailboxes[folder.mailbox].seq
        token = ctx.store.signer.sign("graph-delta", {**payload, "s": last, "a": 0})
        data["@odata.deltaLink"] = f"{link}?{urlencode({'$deltatoken': token})}"
    return GraphResponse.of(200, data, [("Preference-Applied", f"odata.maxpagesize={size}")])


def list_messages(ctx: GraphCtx) -> GraphResponse:
    """``mailFolders/{f}/messages`` with ``$filter=internetMessageId eq '...'`` (the one filter served),
    ``$top`` and ``$skip``."""
    folder = ctx.folder(ctx.params["folder"])
    items = list(folder.items.values())
    text = ctx.query.get("$filter")
    if text:
        match = FILTER.match(text)
        if match is None:
            raise GraphError(
                400, "ErrorInvalidUrlQueryFilter", "The query filter contains one or more invalid nodes."
            )
        wanted = match.group(1).replace("''", "'")
        items = [i for i in items if (i.message_id or "") == wanted]
    top = int(ctx.query.get("$top", str(DEFAULT_PAGE)) or DEFAULT_PAGE)
    skip = int(ctx.query.get("$skip", "0") or 0)
    data: dict[str, object] = {
        "value": [resources.message(i, ctx.select()) for i in items[skip : skip + top]]
    }
    if len(items) > skip + top:
        query = {k: v for k, v in ctx.query.items() if k != "$skip"} | {"$skip": str(skip + top)}
        data["@odata.nextLink"] = (
            f"{ctx.base}/v1.0/users/{quote(ctx.user.address)}/mailFolders/{ctx.params['folder']}/messages?"
            + urlencode(query)
        )
    return GraphResponse.of(200, data)


def get_message(ctx: GraphCtx) -> GraphResponse:
    return GraphResponse.of(200, resources.message(ctx.item(), ctx.select()))


def mime_value(ctx: GraphCtx) -> GraphResponse:
    """``messages/{id}/$value``: the message's MIME, as stored."""
    return GraphResponse(200, ctx.item().mime, "message/rfc822")


def update_message(ctx: GraphCtx) -> GraphResponse:
    """PATCH of ``categories`` and ``isRead`` (what the router acknowledges with)."""
    item = ctx.item()
    changes = {k: v for k, v in ctx.json_body().items() if not k.startswith("@")}  # OData annotations
    unknown = set(changes) - PATCHABLE
    if unknown:
        raise GraphError(
            400, "ErrorInvalidProperty", f"The simulator cannot update: {', '.join(sorted(unknown))}."
        )
    if "categories" in changes:
        cats = changes["categories"]
        if not isinstance(cats, list) or not all(isinstance(c, str) for c in cats):
            raise GraphError(400, "BadRequest", "categories must be a list of strings.")
        item.categories = list(dict.fromkeys(cats))
    if "isRead" in changes:
        if not isinstance(changes["isRead"], bool):
            raise GraphError(400, "BadRequest", "isRead must be true or false.")
        item.is_read = changes["isRead"]
    ctx.store.touch(item, read_only=set(changes) == {"isRead"})
    return GraphResponse.of(200, resources.message(item))


def move_message(ctx: GraphCtx) -> GraphResponse:
    """``messages/{id}/move`` to a well-known folder or a folder id; the moved message has a new id."""
    item = ctx.item()
    dest = ctx.json_body().get("destinationId")
    if not isinstance(dest, str) or not dest:
        raise GraphError(400, "ErrorInvalidIdMalformed", "destinationId is required.")
    moved = ctx.store.move(item, ctx.folder(dest))
    return GraphResponse.of(201, resources.message(moved))


def delete_message(ctx: GraphCtx) -> GraphResponse:
    """DELETE moves the message to Deleted Items, as Graph does."""
    item = ctx.item()
    ctx.store.move(item, ctx.folder("deleteditems"))
    return GraphResponse(204)


def get_folder(ctx: GraphCtx) -> GraphResponse:
    return GraphResponse.of(200, resources.folder(ctx.folder(ctx.params["folder"])))


def child_folders(ctx: GraphCtx) -> GraphResponse:
    node = ctx.folder(ctx.params["folder"])
    return GraphResponse.of(200, {"value": [resources.folder(c) for c in node.children if not c.hidden]})

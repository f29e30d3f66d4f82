"""Entity sets over HTTP: list, read, navigate, create, update and delete rows of the embedded CRM.

Reads honour ``$select``/``$filter``/``$orderby``/``$top``/``$expand`` and page with ``@odata.nextLink``.
Writes run in one transaction as the authenticated caller; ``If-Match`` makes an update conditional on
the row version (412 when it moved). A PATCH never creates a row (no upsert): a missing row is a 404.
"""

from __future__ import annotations

from sqlalchemy import Connection, RowMapping, func, select

from router.crm.embedded import organization as orgmod
from router.crm.embedded import rows
from router.crm.embedded.crm import EmbeddedCrm
from router.crm.embedded.schema import activitymimeattachment, activityparty, annotation, email
from router.crm.embedded.sql import column_for, compile_node
from router.crm.facade.drafts import create_attachment, create_email, create_note, create_record
from router.crm.facade.entities import BY_NAME, EntitySet
from router.crm.facade.query_options import MAX_PAGE_SIZE, Expand, Options, parse_options
from router.crm.facade.routing import Reply, Request, method_not_allowed
from router.crm.facade.serialize import Prefer, etag, parse_changes, parse_etag, row_json


def _prefer(request: Request) -> Prefer:
    return Prefer.parse(request.headers.get("Prefer"))


def list_set(crm: EmbeddedCrm, request: Request, entity_set: EntitySet) -> Reply:
    """GET <set>?<options>: one page of rows and, when more remain, the link to the next."""
    options = parse_options(entity_set, request.query)
    prefer = _prefer(request)
    page = (
        options.top if options.top is not None else min(prefer.max_page_size or MAX_PAGE_SIZE, MAX_PAGE_SIZE)
    )
    with crm.reading() as conn:
        found = _select_rows(conn, entity_set, options, limit=page + 1, offset=options.skip)
        body: dict[str, object] = {
            "@odata.context": f"{request.base_url}$metadata#{entity_set.name}",
            "value": [_entity(conn, entity_set, r, options, prefer) for r in found[:page]],
        }
        if options.count:
            body["@odata.count"] = _count(conn, entity_set, options)
    headers = {}
    if len(found) > page and options.top is None:
        body["@odata.nextLink"] = _next_link(request, options.skip + page)
        headers["Preference-Applied"] = f"odata.maxpagesize={page}"
    return Reply(200, body, headers)


def _select_rows(
    conn: Connection,
    entity_set: EntitySet,
    options: Options,
    *,
    limit: int,
    offset: int = 0,
    parent: tuple[str, str] | None = None,
) -> list[RowMapping]:
    table = entity_set.table
    stmt = select(table)
    if parent is not None:
        stmt = stmt.where(table.c[parent[0]] == parent[1])
    if options.filter is not None:
        stmt = stmt.where(compile_node(table, options.filter))
    for name, descending in options.orderby:
        column = column_for(table, name)
        stmt = stmt.order_by(column.desc() if descending else column.asc())
    stmt = stmt.order_by(rows.rowid(table)).limit(limit).offset(offset)
    return list(conn.execute(stmt).mappings())


def _count(conn: Connection, entity_set: EntitySet, options: Options) -> int:
    stmt = select(func.count()).select_from(entity_set.table)
    if options.filter is not None:
        stmt = stmt.where(compile_node(entity_set.table, options.filter))
    return int(conn.execute(stmt).scalar() or 0)


def _next_link(request: Request, offset: int) -> str:
    kept = [
        p
        for p in request.raw_query.split("&")
        if p and not p.lower().startswith(("$skiptoken=", "%24skiptoken="))
    ]
    path = "/".join(request.segments)
    return f"{request.base_url}{path}?{'&'.join([*kept, f'$skiptoken={offset}'])}"


def _entity(
    conn: Connection, entity_set: EntitySet, row: RowMapping, options: Options, prefer: Prefer
) -> dict[str, object]:
    body = row_json(conn, entity_set, row, select=options.select, prefer=prefer)
    for expand in options.expand:
        body[expand.navigation] = _expanded(conn, entity_set, row, expand, prefer)
    return body


def _expanded(
    conn: Connection, entity_set: EntitySet, row: RowMapping, expand: Expand, prefer: Prefer
) -> list[dict[str, object]]:
    collection = entity_set.collections[expand.navigation]
    target = BY_NAME[collection.entity_set]
    options = Options(select=expand.select, filter=expand.filter)
    found = _select_rows(
        conn, target, options, limit=MAX_PAGE_SIZE, parent=(collection.foreign_key, str(row[entity_set.key]))
    )
    return [row_json(conn, target, r, select=expand.select, prefer=prefer) for r in found]


def get_entity(crm: EmbeddedCrm, request: Request, entity_set: EntitySet, key: str) -> Reply:
    """GET <set>(<id>)?$select&$expand."""
    options = parse_options(entity_set, request.query)
    with crm.reading() as conn:
        row = rows.require(conn, entity_set.table, key)
        body = _entity(conn, entity_set, row, options, _prefer(request))
    context = f"{request.base_url}$metadata#{entity_set.name}/$entity"
    return Reply(200, {"@odata.context": context, **body}, {"ETag": str(body["@odata.etag"])})


def get_navigation(
    crm: EmbeddedCrm, request: Request, entity_set: EntitySet, key: str, navigation: str
) -> Reply:
    """GET <set>(<id>)/<collection navigation>."""
    collection = entity_set.collections[navigation]
    target = BY_NAME[collection.entity_set]
    options = parse_options(target, request.query)
    prefer = _prefer(request)
    with crm.reading() as conn:
        rows.require(conn, entity_set.table, key)
        found = _select_rows(conn, target, options, limit=MAX_PAGE_SIZE, parent=(collection.foreign_key, key))
        value = [_entity(conn, target, r, options, prefer) for r in found]
    return Reply(200, {"@odata.context": f"{request.base_url}$metadata#{target.name}", "value": value})


def attachment_body(crm: EmbeddedCrm, key: str) -> Reply:
    """GET activitymimeattachments(<id>)/body/$value: the Base64 text of the content."""
    with crm.reading() as conn:
        row = rows.require(conn, activitymimeattachment, key)
    return Reply(200, raw=str(row["body"]).encode("ascii"), content_type="text/plain")


def create(crm: EmbeddedCrm, request: Request, entity_set: EntitySet) -> Reply:
    """POST <set>: 204 with OData-EntityId, or 201 with the entity when representation is preferred."""
    creators = {
        "emails": create_email,
        "activitymimeattachments": create_attachment,
        "annotations": create_note,
    }
    if not entity_set.creatable:
        raise method_not_allowed("POST", entity_set.name)
    body = request.json()
    with crm.writing() as conn:
        caller = crm.authorize(conn, request.principal)
        creator = creators.get(entity_set.name, create_record)
        new_id = creator(conn, crm.now(), entity_set, body, caller)
    return _written(crm, request, entity_set, new_id, created=True)


def _written(crm: EmbeddedCrm, request: Request, entity_set: EntitySet, key: str, *, created: bool) -> Reply:
    location = f"{request.base_url}{entity_set.name}({key})"
    prefer = _prefer(request)
    with crm.reading() as conn:
        row = rows.require(conn, entity_set.table, key)
        body = row_json(conn, entity_set, row, select=None, prefer=prefer)
    headers = {"OData-EntityId": location, "ETag": etag(int(row["versionnumber"]))}
    if prefer.representation and request.supports_representation:
        context = f"{request.base_url}$metadata#{entity_set.name}/$entity"
        return Reply(201 if created else 200, {"@odata.context": context, **body}, headers)
    return Reply(204, None, headers)


def update(crm: EmbeddedCrm, request: Request, entity_set: EntitySet, key: str) -> Reply:
    """PATCH <set>(<id>), conditional on If-Match when given."""
    if entity_set.writable is not None and not entity_set.writable:
        raise method_not_allowed("PATCH", entity_set.name)
    changes = parse_changes(entity_set, request.json(), creating=False)
    header = request.headers.get("If-Match")
    version = parse_etag(header) if header else None
    if entity_set.name == "emails":
        crm.update_email(request.principal, key, changes.values, if_version=version)
    else:
        with crm.writing() as conn:
            crm.authorize(conn, request.principal)
            if entity_set.name == "organizations":
                rows.require(conn, entity_set.table, key)
                orgmod.update(conn, crm.now(), changes.values)
            else:
                rows.update(conn, entity_set.table, key, changes.values, crm.now(), if_version=version)
    return _written(crm, request, entity_set, key, created=False)


def delete(crm: EmbeddedCrm, request: Request, entity_set: EntitySet, key: str) -> Reply:
    """DELETE <set>(<id>); deleting an e-mail deletes its parties, attachments and notes."""
    if not entity_set.deletable:
        raise method_not_allowed("DELETE", entity_set.name)
    with crm.writing() as conn:
        crm.authorize(conn, request.principal)
        if entity_set.name == "emails":
            rows.require(conn, email, key)
            conn.execute(activityparty.delete().where(activityparty.c.activityid == key))
            conn.execute(activitymimeattachment.delete().where(activitymimeattachment.c.objectid == key))
            conn.execute(annotation.delete().where(annotation.c.objectid == key))
        rows.delete(conn, entity_set.table, key)
    return Reply(204)

"""Rows to Web API JSON and back, with Dynamics' conventions.

Reading: plain columns by name, lookups as ``_x_value`` (plus the ``lookuplogicalname`` and
``FormattedValue`` annotations when the client's ``Prefer`` asks for them), ``@odata.etag`` from the row
version, date-times as ISO 8601 UTC to the second. Writing: plain columns coerced to their types,
lookups bound with ``<navigation>@odata.bind``, anything else refused naming the property.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, RowMapping

from router.crm.embedded.records import describe
from router.crm.embedded.rows import invalid
from router.crm.embedded.sql import coerce
from router.crm.facade.entities import BY_NAME, EntitySet

LOOKUP_LOGICAL_NAME = "Microsoft.Dynamics.CRM.lookuplogicalname"
FORMATTED_VALUE = "OData.Community.Display.V1.FormattedValue"
_BIND = re.compile(r"(?:^|/)(?P<set>[A-Za-z_]+)\((?P<id>[0-9A-Fa-f-]{36})\)$")


@dataclass(frozen=True)
class Prefer:
    """The client's ``Prefer`` header: representation, annotations, page size."""

    representation: bool = False
    annotations: frozenset[str] = frozenset()
    max_page_size: int | None = None

    @classmethod
    def parse(cls, header: str | None) -> Prefer:
        """Parse a ``Prefer`` header (comma-separated preferences)."""
        representation, annotations, page = False, frozenset[str](), None
        for part in re.split(r",(?=(?:[^\"]*\"[^\"]*\")*[^\"]*$)", header or ""):
            name, _, value = part.strip().partition("=")
            value = value.strip().strip('"')
            if name == "return" and value == "representation":
                representation = True
            elif name == "odata.include-annotations":
                annotations = frozenset(v.strip() for v in value.split(",") if v.strip())
            elif name == "odata.maxpagesize" and value.isdigit():
                page = int(value)
        return cls(representation, annotations, page)

    def wants(self, annotation: str) -> bool:
        """True when the client asked for ``annotation`` (or for all of them)."""
        return "*" in self.annotations or annotation in self.annotations


def etag(version: int) -> str:
    """The weak ETag of a row version."""
    return f'W/"{version}"'


def parse_etag(value: str) -> int | None:
    """The row version an ``If-Match`` names, or None for ``*``."""
    text = value.strip()
    if text == "*":
        return None
    match = re.fullmatch(r'(?:W/)?"?(\d+)"?', text)
    if not match:
        raise invalid(
            f"If-Match {value!r} is not an ETag of this service", hint='send the @odata.etag, e.g. W/"3"'
        )
    return int(match.group(1))


def json_value(value: object) -> object:
    """A column value as JSON: date-times in UTC to the second with a ``Z``."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return value


def row_json(
    conn: Connection,
    entity_set: EntitySet,
    row: RowMapping,
    *,
    select: list[str] | None,
    prefer: Prefer,
) -> dict[str, object]:
    """Return ``row`` as a Web API entity (only ``select`` properties when given; the key always)."""
    body: dict[str, object] = {
        "@odata.etag": etag(int(row["versionnumber"])),
        entity_set.key: row[entity_set.key],
    }
    wanted = set(select) if select else None
    for column in entity_set.plain_columns():
        if wanted is None or column in wanted:
            body[column] = json_value(row[column])
    for lookup in entity_set.lookups:
        name = lookup.read_name
        if wanted is not None and name not in wanted:
            continue
        body[name] = row[lookup.column]
        target = row[lookup.type_column] if lookup.type_column else next(iter(lookup.navigations.values()))
        if row[lookup.column] and prefer.wants(LOOKUP_LOGICAL_NAME):
            body[f"{name}@{LOOKUP_LOGICAL_NAME}"] = target
        if row[lookup.column] and prefer.wants(FORMATTED_VALUE):
            ref = describe(conn, target, row[lookup.column])
            body[f"{name}@{FORMATTED_VALUE}"] = ref.name if ref else ""
    return body


def check_select(entity_set: EntitySet, select: list[str]) -> None:
    """Refuse a ``$select`` naming a property the entity does not have."""
    known = set(entity_set.plain_columns()) | {lk.read_name for lk in entity_set.lookups} | {entity_set.key}
    for name in select:
        if name not in known:
            raise invalid(
                f"Could not find a property named '{name}' on type 'Microsoft.Dynamics.CRM."
                f"{entity_set.logical_name}'",
                hint="check the property name in $metadata",
            )


@dataclass
class Changes:
    """What a POST or PATCH body asks for: column values and deep-inserted collections."""

    values: dict[str, object] = field(default_factory=dict)
    collections: dict[str, list[Mapping[str, Any]]] = field(default_factory=dict)


def parse_changes(entity_set: EntitySet, body: Mapping[str, Any], *, creating: bool) -> Changes:
    """Turn a request body into column values, refusing unknown or read-only properties by name."""
    changes = Changes()
    for name, value in body.items():
        if name.startswith("@odata."):
            continue
        if name.endswith("@odata.bind"):
            _bind(entity_set, name[: -len("@odata.bind")], value, changes)
        elif name in entity_set.collections and creating and isinstance(value, list):
            changes.collections[name] = value
        elif name in entity_set.table.c and entity_set.can_write(name):
            changes.values[name] = coerce(entity_set.table, name, value)
        else:
            raise invalid(_refusal(entity_set, name), hint="see $metadata for the writable properties")
    return changes


def _refusal(entity_set: EntitySet, name: str) -> str:
    kind = f"'Microsoft.Dynamics.CRM.{entity_set.logical_name}'"
    if name.startswith("_") and name.endswith("_value"):
        return f"the lookup '{name}' of {kind} is read-only; bind it with '<navigation property>@odata.bind'"
    if name in entity_set.table.c:
        return f"the property '{name}' of {kind} cannot be set"
    return f"The property '{name}' does not exist on type {kind}"


def _bind(entity_set: EntitySet, navigation: str, value: object, changes: Changes) -> None:
    found = entity_set.lookup_for_navigation(navigation)
    if found is None:
        raise invalid(
            f"'{navigation}' is not a navigation property of "
            f"'Microsoft.Dynamics.CRM.{entity_set.logical_name}'",
            hint="use the navigation property name from $metadata, e.g. regardingobjectid_account_email",
        )
    lookup, target = found
    if value is None:
        changes.values[lookup.column] = None
        if lookup.type_column:
            changes.values[lookup.type_column] = None
        return
    match = _BIND.search(str(value))
    target_set = BY_NAME.get(match.group("set")) if match else None
    if match is None or target_set is None or target_set.logical_name != target:
        raise invalid(
            f"{navigation}@odata.bind must reference a {target} record, got {value!r}",
            hint=f'e.g. "/{_set_name(target)}(<guid>)"',
        )
    changes.values[lookup.column] = match.group("id").lower()
    if lookup.type_column:
        changes.values[lookup.type_column] = target


def _set_name(logical_name: str) -> str:
    return next((s.name for s in BY_NAME.values() if s.logical_name == logical_name), logical_name + "s")

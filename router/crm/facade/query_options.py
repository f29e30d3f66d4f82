"""The OData system query options the facade honours: $select, $filter, $orderby, $top, $expand, $count.

Paging follows Dynamics: at most ``odata.maxpagesize`` rows (5000 when not asked), then an
``@odata.nextLink`` that the client requests unchanged; its ``$skiptoken`` is an opaque offset.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from router.crm.embedded.rows import invalid
from router.crm.facade.entities import BY_NAME, EntitySet
from router.crm.facade.odata_filter import parse_filter
from router.crm.facade.serialize import check_select
from router.crm.query import Condition, Filter, Node, Not

MAX_PAGE_SIZE = 5000


@dataclass(frozen=True)
class Expand:
    """One ``$expand`` item: a collection navigation and its nested options."""

    navigation: str
    select: list[str] | None = None
    filter: Node | None = None


@dataclass(frozen=True)
class Options:
    """The parsed system query options of one request."""

    select: list[str] | None = None
    filter: Node | None = None
    orderby: list[tuple[str, bool]] = field(default_factory=list)
    top: int | None = None
    skip: int = 0
    count: bool = False
    expand: list[Expand] = field(default_factory=list)


def parse_options(entity_set: EntitySet, query: Mapping[str, str]) -> Options:
    """Parse and check the query options against ``entity_set``."""
    select = _select(entity_set, query.get("$select"))
    node = parse_filter(query["$filter"]) if query.get("$filter") else None
    if node is not None:
        check_attributes(entity_set, node)
    return Options(
        select=select,
        filter=node,
        orderby=_orderby(entity_set, query.get("$orderby", "")),
        top=_number(query, "$top"),
        skip=_number(query, "$skiptoken") or 0,
        count=query.get("$count", "").lower() == "true",
        expand=[_expand(entity_set, item) for item in split_top_level(query.get("$expand", ""), ",")],
    )


def _select(entity_set: EntitySet, text: str | None) -> list[str] | None:
    if not text:
        return None
    names = [n.strip() for n in text.split(",") if n.strip()]
    check_select(entity_set, names)
    return names


def _number(query: Mapping[str, str], name: str) -> int | None:
    text = query.get(name)
    if text is None:
        return None
    if not text.isdigit():
        raise invalid(f"{name} must be a non-negative whole number, got {text!r}", hint=f"e.g. {name}=10")
    return int(text)


def _orderby(entity_set: EntitySet, text: str) -> list[tuple[str, bool]]:
    order = []
    for item in (i.strip() for i in text.split(",") if i.strip()):
        name, _, direction = item.partition(" ")
        check_select(entity_set, [name])
        if direction.strip().lower() not in ("", "asc", "desc"):
            raise invalid(f"$orderby: {direction!r} is not asc or desc", hint="e.g. $orderby=createdon desc")
        order.append((name, direction.strip().lower() == "desc"))
    return order


def check_attributes(entity_set: EntitySet, node: Node) -> None:
    """Refuse a filter on a property the entity set does not serve."""
    if isinstance(node, Filter):
        for child in node.children:
            check_attributes(entity_set, child)
    elif isinstance(node, Not):
        check_attributes(entity_set, node.child)
    elif isinstance(node, Condition):
        check_select(entity_set, [node.attribute])


def _expand(entity_set: EntitySet, item: str) -> Expand:
    name, _, rest = item.strip().partition("(")
    collection = entity_set.collections.get(name.strip())
    if collection is None:
        raise invalid(
            f"'{name.strip()}' is not a collection navigation property of {entity_set.logical_name}",
            hint=f"expandable: {', '.join(entity_set.collections) or 'none'}",
        )
    target = BY_NAME[collection.entity_set]
    nested: dict[str, str] = {}
    for option in split_top_level(rest.rstrip(")"), ";"):
        key, _, value = option.partition("=")
        nested[key.strip()] = value.strip()
    node = parse_filter(nested["$filter"]) if nested.get("$filter") else None
    if node is not None:
        check_attributes(target, node)
    return Expand(name.strip(), _select(target, nested.get("$select")), node)


def split_top_level(text: str, separator: str) -> list[str]:
    """Split ``text`` on ``separator`` outside parentheses and quotes."""
    parts: list[str] = []
    depth, quoted, current = 0, False, ""
    for char in text:
        quoted = not quoted if char == "'" else quoted
        depth += (char == "(") - (char == ")") if not quoted else 0
        if char == separator and depth == 0 and not quoted:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return [p for p in parts if p.strip()]

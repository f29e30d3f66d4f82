"""Parse the ``Query`` parameter of BackgroundSendEmail: QueryExpression, QueryByAttribute or FetchXML.

``QueryBase`` is abstract, so the parameter names its concrete type in ``@odata.type`` (with or without
a leading ``#``). Condition values arrive as ``mscrm.Object {Type, Value}`` pairs (QueryExpression) or as
attribute text (FetchXML); the embedded CRM coerces them to the column types.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lxml import etree

from router.crm.embedded.rows import invalid
from router.crm.query import Condition, Filter, Node, Op, Value, all_of, eq

_FETCH_OPERATORS = {
    "eq": Op.EQUAL,
    "ne": Op.NOT_EQUAL,
    "neq": Op.NOT_EQUAL,
    "gt": Op.GREATER_THAN,
    "ge": Op.GREATER_EQUAL,
    "lt": Op.LESS_THAN,
    "le": Op.LESS_EQUAL,
    "like": Op.LIKE,
    "not-like": Op.NOT_LIKE,
    "in": Op.IN,
    "not-in": Op.NOT_IN,
    "null": Op.NULL,
    "not-null": Op.NOT_NULL,
    "begins-with": Op.BEGINS_WITH,
    "ends-with": Op.ENDS_WITH,
}
_OPS_BY_NAME = {op.value: op for op in Op}
#: ConditionOperator member values (Between / NotBetween, 10 and 11, are not supported).
_OPS_BY_NUMBER = {
    0: Op.EQUAL,
    1: Op.NOT_EQUAL,
    2: Op.GREATER_THAN,
    3: Op.LESS_THAN,
    4: Op.GREATER_EQUAL,
    5: Op.LESS_EQUAL,
    6: Op.LIKE,
    7: Op.NOT_LIKE,
    8: Op.IN,
    9: Op.NOT_IN,
    12: Op.NULL,
    13: Op.NOT_NULL,
}


@dataclass(frozen=True)
class ParsedQuery:
    """The table a query is on, its condition tree and how many rows it wants (None: no limit)."""

    entity_name: str
    node: Node
    top: int | None


def parse_query(query: Mapping[str, Any]) -> ParsedQuery:
    """Parse a QueryBase JSON object."""
    kind = str(query.get("@odata.type", "")).lstrip("#").removeprefix("Microsoft.Dynamics.CRM.")
    if kind == "QueryExpression":
        return _query_expression(query)
    if kind == "QueryByAttribute":
        return _query_by_attribute(query)
    if kind == "FetchExpression":
        return parse_fetch(str(query.get("Query", "")))
    raise invalid(
        f"the Query parameter has @odata.type {query.get('@odata.type')!r}",
        hint="use Microsoft.Dynamics.CRM.QueryExpression, QueryByAttribute or FetchExpression",
    )


def _query_expression(query: Mapping[str, Any]) -> ParsedQuery:
    criteria = query.get("Criteria") or {}
    return ParsedQuery(str(query.get("EntityName", "")).lower(), _filter_expression(criteria), _top(query))


def _top(query: Mapping[str, Any]) -> int | None:
    page = query.get("PageInfo") or {}
    for value in (page.get("Count"), query.get("TopCount")):
        if value not in (None, 0, "0"):
            return int(value)
    return None


def _filter_expression(criteria: Mapping[str, Any]) -> Node:
    operator = str(criteria.get("FilterOperator", "And"))
    joined = "or" if operator in ("Or", "1") else "and"
    children: list[Node] = [_condition(c) for c in criteria.get("Conditions") or []]
    children.extend(_filter_expression(f) for f in criteria.get("Filters") or [])
    return Filter(joined, tuple(children))


def _condition(condition: Mapping[str, Any]) -> Condition:
    attribute = str(condition.get("AttributeName", ""))
    raw = condition.get("Operator", "Equal")
    op = _OPS_BY_NUMBER.get(raw) if isinstance(raw, int) else _OPS_BY_NAME.get(str(raw))
    if not attribute or op is None:
        raise invalid(
            f"unsupported condition {dict(condition)!r}",
            hint="give AttributeName and an Operator such as Equal, In, LessThan or Null",
        )
    return Condition(attribute.lower(), op, tuple(_object_value(v) for v in condition.get("Values") or []))


def _object_value(value: object) -> Value:
    if not isinstance(value, Mapping):
        return value if isinstance(value, str | int | float | bool) or value is None else str(value)
    kind, text = str(value.get("Type", "System.String")), value.get("Value")
    if text is None:
        return None
    if kind in ("System.Int32", "System.Int64", "System.Int16"):
        return int(text)
    if kind == "System.Boolean":
        return str(text).lower() == "true"
    return str(text)


def _query_by_attribute(query: Mapping[str, Any]) -> ParsedQuery:
    attributes = [str(a).lower() for a in query.get("Attributes") or []]
    values = [_object_value(v) for v in query.get("Values") or []]
    if len(attributes) != len(values):
        raise invalid(
            "QueryByAttribute needs as many Values as Attributes", hint="pair each attribute with a value"
        )
    node = all_of(*(eq(a, v) for a, v in zip(attributes, values, strict=True)))
    return ParsedQuery(str(query.get("EntityName", "")).lower(), node, _top(query))


def parse_fetch(text: str) -> ParsedQuery:
    """Parse a FetchXML ``<fetch>`` with one ``<entity>`` and its ``<filter>`` elements."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
    try:
        root = etree.fromstring(text.encode("utf-8"), parser)
    except etree.XMLSyntaxError as exc:
        raise invalid(f"the FetchXML is not well-formed: {exc}", hint="check the <fetch> document") from exc
    entity = root.find("entity")
    if root.tag != "fetch" or entity is None:
        raise invalid("FetchXML must be <fetch><entity name='...'>...</entity></fetch>", hint="see FetchXML")
    filters = [_fetch_filter(f) for f in entity.findall("filter")]
    top = root.get("count") or root.get("top")
    return ParsedQuery(entity.get("name", "").lower(), all_of(*filters), int(top) if top else None)


def _fetch_filter(element: etree._Element) -> Node:
    children: list[Node] = []
    for child in element:
        if child.tag == "condition":
            children.append(_fetch_condition(child))
        elif child.tag == "filter":
            children.append(_fetch_filter(child))
    return Filter("or" if element.get("type") == "or" else "and", tuple(children))


def _fetch_condition(element: etree._Element) -> Condition:
    attribute, name = element.get("attribute", ""), element.get("operator", "")
    op = _FETCH_OPERATORS.get(name)
    if not attribute or op is None:
        raise invalid(
            f"unsupported FetchXML condition {etree.tostring(element).decode()!r}",
            hint=f"operators supported: {', '.join(_FETCH_OPERATORS)}",
        )
    values: list[Value] = [v.text or "" for v in element.findall("value")]
    if element.get("value") is not None:
        values.insert(0, element.get("value"))
    return Condition(attribute.lower(), op, tuple(values))

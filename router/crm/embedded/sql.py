"""Compile a ``router.crm.query`` tree into a SQLAlchemy condition on one embedded-CRM table.

Attribute names are the Dynamics logical names; the Web API spelling of a lookup (``_x_value``) is
accepted too. Values are coerced to the column's type, and string comparisons ignore case, as the
Dynamics query engine does. An unknown attribute or a value of the wrong type is a 400-style error
naming it, never a SQL error.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Boolean, ColumnElement, Integer, Table, and_, func, not_, or_, true
from sqlalchemy.sql.elements import ColumnElement as _Col

from router.crm.embedded import rows
from router.crm.embedded.schema import UtcDateTime
from router.crm.query import Condition, Filter, Node, Not, Op, Value


def compile_node(table: Table, node: Node) -> ColumnElement[bool]:
    """Return the SQL condition for ``node`` on ``table``."""
    if isinstance(node, Filter):
        parts = [compile_node(table, child) for child in node.children]
        if not parts:
            return true()
        return and_(*parts) if node.operator == "and" else or_(*parts)
    if isinstance(node, Not):
        return not_(compile_node(table, node.child))
    return _condition(table, node)


def column_for(table: Table, attribute: str) -> _Col[object]:
    """Return the column an attribute names (``x`` or ``_x_value``), or raise naming the attribute."""
    name = attribute[1:-6] if attribute.startswith("_") and attribute.endswith("_value") else attribute
    if name not in table.c:
        raise rows.invalid(
            f"{table.name} has no attribute {attribute!r}",
            hint=f"use one of: {', '.join(sorted(table.c.keys()))}",
        )
    return table.c[name]


def coerce(table: Table, attribute: str, value: Value) -> Value:
    """Return ``value`` converted to the type of ``attribute``'s column."""
    column = column_for(table, attribute)
    if value is None:
        return None
    try:
        if isinstance(column.type, Boolean):
            return value if isinstance(value, bool) else str(value).strip().lower() in ("true", "1")
        if isinstance(column.type, Integer):
            return int(value) if not isinstance(value, datetime) else _bad(table, attribute, value)
        if isinstance(column.type, UtcDateTime):
            return (
                value
                if isinstance(value, datetime)
                else datetime.fromisoformat(str(value).replace("Z", "+00:00"))
            )
    except ValueError as exc:
        raise rows.invalid(
            f"{value!r} is not a valid value for {table.name}.{attribute}", hint="check the type of the value"
        ) from exc
    return value if isinstance(value, str) else str(value)


def _bad(table: Table, attribute: str, value: Value) -> Value:
    raise ValueError(f"{value!r} for {table.name}.{attribute}")


def _condition(table: Table, cond: Condition) -> ColumnElement[bool]:
    column = column_for(table, cond.attribute)
    if cond.op is Op.NULL:
        return column.is_(None)
    if cond.op is Op.NOT_NULL:
        return column.is_not(None)
    values = [coerce(table, cond.attribute, v) for v in cond.values]
    if not values:
        raise rows.invalid(
            f"the condition on {cond.attribute} ({cond.op.value}) has no value",
            hint="give the condition a value",
        )
    is_text = not isinstance(column.type, Boolean | Integer | UtcDateTime)
    left = func.lower(column) if is_text else column
    values = [v.lower() if is_text and isinstance(v, str) else v for v in values]
    return _compare(left, cond.op, values)


def _compare(left: ColumnElement[object], op: Op, values: list[Value]) -> ColumnElement[bool]:
    first = values[0]
    if op is Op.IN:
        return left.in_(values)
    if op is Op.NOT_IN:
        return left.not_in(values)
    if first is None:
        return left.is_(None) if op is Op.EQUAL else left.is_not(None)
    simple: dict[Op, Callable[[], ColumnElement[bool]]] = {
        Op.EQUAL: lambda: left == first,
        Op.NOT_EQUAL: lambda: left != first,
        Op.GREATER_THAN: lambda: left > first,
        Op.LESS_THAN: lambda: left < first,
        Op.GREATER_EQUAL: lambda: left >= first,
        Op.LESS_EQUAL: lambda: left <= first,
        Op.LIKE: lambda: left.like(str(first)),
        Op.NOT_LIKE: lambda: left.not_like(str(first)),
        Op.CONTAINS: lambda: left.contains(str(first), autoescape=True),
        Op.BEGINS_WITH: lambda: left.startswith(str(first), autoescape=True),
        Op.ENDS_WITH: lambda: left.endswith(str(first), autoescape=True),
    }
    return simple[op]()

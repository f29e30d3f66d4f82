"""A small query language shared by the gateways and the facade: conditions on columns of one table.

BackgroundSendEmail takes a query (QueryExpression or FetchXML) and the Web API takes ``$filter``; all
three are parsed into, or serialised from, this tree, and the embedded CRM compiles the tree to SQL. The
attribute names are Dynamics logical column names (``statuscode``, ``sendermailboxid``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import Enum

Value = str | int | float | bool | datetime | None


class Op(Enum):
    """Comparison operators, named after the QueryExpression ``ConditionOperator`` members."""

    EQUAL = "Equal"
    NOT_EQUAL = "NotEqual"
    GREATER_THAN = "GreaterThan"
    LESS_THAN = "LessThan"
    GREATER_EQUAL = "GreaterEqual"
    LESS_EQUAL = "LessEqual"
    LIKE = "Like"
    NOT_LIKE = "NotLike"
    IN = "In"
    NOT_IN = "NotIn"
    NULL = "Null"
    NOT_NULL = "NotNull"
    CONTAINS = "Contains"
    BEGINS_WITH = "BeginsWith"
    ENDS_WITH = "EndsWith"

    @property
    def arity(self) -> str:
        """``none`` for Null/NotNull, ``many`` for In/NotIn, ``one`` otherwise."""
        if self in (Op.NULL, Op.NOT_NULL):
            return "none"
        return "many" if self in (Op.IN, Op.NOT_IN) else "one"


@dataclass(frozen=True)
class Condition:
    """``attribute <op> values``; ``values`` is empty for Null/NotNull and holds one value for the rest."""

    attribute: str
    op: Op
    values: tuple[Value, ...] = ()


@dataclass(frozen=True)
class Filter:
    """Conditions and nested filters joined by ``and`` or ``or``."""

    operator: str
    children: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    """The negation of a condition or filter (OData ``not``)."""

    child: Node


Node = Condition | Filter | Not


def all_of(*children: Node) -> Filter:
    """Join ``children`` with ``and``."""
    return Filter("and", tuple(children))


def any_of(*children: Node) -> Filter:
    """Join ``children`` with ``or``."""
    return Filter("or", tuple(children))


def eq(attribute: str, value: Value) -> Condition:
    """``attribute`` equals ``value`` (``None`` means the column is null)."""
    return Condition(attribute, Op.NULL) if value is None else Condition(attribute, Op.EQUAL, (value,))


def one_of(attribute: str, values: Sequence[Value]) -> Condition:
    """``attribute`` is one of ``values``."""
    return Condition(attribute, Op.IN, tuple(values))

"""Serialise the shared query tree as a ``QueryExpression`` (the ``Query`` of BackgroundSendEmail)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from router.crm.dynamics.odata import timestamp
from router.crm.query import Condition, Filter, Value

QUERY_EXPRESSION = "Microsoft.Dynamics.CRM.QueryExpression"


def query_expression(entity_name: str, criteria: Filter, top: int) -> dict[str, Any]:
    """A QueryExpression over ``entity_name``: all columns, oldest first, at most ``top`` rows."""
    return {
        "@odata.type": QUERY_EXPRESSION,
        "EntityName": entity_name,
        "ColumnSet": {"AllColumns": True},
        "Criteria": filter_expression(criteria),
        "Orders": [{"AttributeName": "createdon", "OrderType": "Ascending"}],
        "PageInfo": {"PageNumber": 1, "Count": top},
    }


def filter_expression(node: Filter) -> dict[str, Any]:
    """A FilterExpression: its conditions and nested filters."""
    conditions = [condition(c) for c in node.children if isinstance(c, Condition)]
    filters = [filter_expression(f) for f in node.children if isinstance(f, Filter)]
    if len(conditions) + len(filters) != len(node.children):
        raise ValueError("a QueryExpression cannot express 'not'; rewrite the query without it")
    return {
        "FilterOperator": "Or" if node.operator == "or" else "And",
        "Conditions": conditions,
        "Filters": filters,
    }


def condition(node: Condition) -> dict[str, Any]:
    """A ConditionExpression with ``mscrm.Object`` values."""
    return {
        "AttributeName": node.attribute,
        "Operator": node.op.value,
        "Values": [_object(v) for v in node.values],
    }


def _object(value: Value) -> dict[str, str]:
    if isinstance(value, bool):
        return {"Type": "System.Boolean", "Value": "true" if value else "false"}
    if isinstance(value, int):
        return {"Type": "System.Int32", "Value": str(value)}
    if isinstance(value, datetime):
        return {"Type": "System.DateTime", "Value": timestamp(value)}
    text = "" if value is None else str(value)
    return {"Type": "System.Guid" if _is_guid(text) else "System.String", "Value": text}


def _is_guid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return len(text) == 36

"""Parse an OData ``$filter`` into the shared query tree.

Supported, as the Dynamics Web API documents them: ``eq ne gt ge lt le``, ``and or not``, parentheses,
``contains`` / ``startswith`` / ``endswith``, and literals — strings in single quotes (a quote inside is
doubled), numbers, ``true`` / ``false`` / ``null``, GUIDs unquoted and ISO 8601 date-times. Anything else
is refused with a message naming the position.
"""

from __future__ import annotations

import re
from datetime import datetime

from router.crm.embedded.rows import invalid
from router.crm.query import Condition, Filter, Node, Not, Op, Value

_TOKEN = re.compile(
    r"\s*(?:(?P<string>'(?:[^']|'')*')"
    r"|(?P<guid>[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12})\b"
    r"|(?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})?)"
    r"|(?P<number>-?\d+(?:\.\d+)?)\b"
    r"|(?P<word>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<punct>[(),]))"
)
_COMPARISONS = {
    "eq": Op.EQUAL,
    "ne": Op.NOT_EQUAL,
    "gt": Op.GREATER_THAN,
    "ge": Op.GREATER_EQUAL,
    "lt": Op.LESS_THAN,
    "le": Op.LESS_EQUAL,
}
_FUNCTIONS = {"contains": Op.CONTAINS, "startswith": Op.BEGINS_WITH, "endswith": Op.ENDS_WITH}


class _Tokens:
    def __init__(self, text: str) -> None:
        self.items: list[tuple[str, str, int]] = []
        position = 0
        while position < len(text):
            match = _TOKEN.match(text, position)
            if match is None or match.end() == position:
                if text[position:].strip() == "":
                    break
                raise invalid(
                    f"$filter: cannot read {text[position : position + 20]!r} at position {position}",
                    hint="see the OData $filter syntax",
                )
            kind = match.lastgroup or ""
            self.items.append((kind, match.group(kind), position))
            position = match.end()
        self.index = 0

    def peek(self) -> tuple[str, str, int] | None:
        return self.items[self.index] if self.index < len(self.items) else None

    def next(self, what: str) -> tuple[str, str, int]:
        token = self.peek()
        if token is None:
            raise invalid(f"$filter ended early: expected {what}", hint="complete the expression")
        self.index += 1
        return token

    def accept(self, word: str) -> bool:
        token = self.peek()
        if token is not None and token[1].lower() == word and token[0] in ("word", "punct"):
            self.index += 1
            return True
        return False


def parse_filter(text: str) -> Node:
    """Return the query tree for an OData ``$filter`` expression."""
    tokens = _Tokens(text)
    node = _or(tokens)
    leftover = tokens.peek()
    if leftover is not None:
        raise invalid(
            f"$filter: unexpected {leftover[1]!r} at position {leftover[2]}", hint="check the syntax"
        )
    return node


def _or(tokens: _Tokens) -> Node:
    children = [_and(tokens)]
    while tokens.accept("or"):
        children.append(_and(tokens))
    return children[0] if len(children) == 1 else Filter("or", tuple(children))


def _and(tokens: _Tokens) -> Node:
    children = [_unary(tokens)]
    while tokens.accept("and"):
        children.append(_unary(tokens))
    return children[0] if len(children) == 1 else Filter("and", tuple(children))


def _unary(tokens: _Tokens) -> Node:
    if tokens.accept("not"):
        return Not(_unary(tokens))
    if tokens.accept("("):
        node = _or(tokens)
        _expect(tokens, ")")
        return node
    kind, word, position = tokens.next("a property or function")
    if kind != "word":
        raise invalid(
            f"$filter: expected a property at position {position}, got {word!r}", hint="e.g. statuscode eq 6"
        )
    if word.lower() in _FUNCTIONS:
        return _function(tokens, _FUNCTIONS[word.lower()])
    _, op, op_position = tokens.next("a comparison operator")
    if op.lower() not in _COMPARISONS:
        raise invalid(
            f"$filter: {op!r} at position {op_position} is not a supported operator",
            hint="use eq, ne, gt, ge, lt or le",
        )
    value = _literal(tokens)
    comparison = _COMPARISONS[op.lower()]
    if value is None and comparison in (Op.EQUAL, Op.NOT_EQUAL):
        return Condition(word, Op.NULL if comparison is Op.EQUAL else Op.NOT_NULL)
    return Condition(word, comparison, (value,))


def _function(tokens: _Tokens, op: Op) -> Node:
    _expect(tokens, "(")
    _, attribute, _ = tokens.next("a property")
    _expect(tokens, ",")
    value = _literal(tokens)
    _expect(tokens, ")")
    return Condition(attribute, op, (value,))


def _expect(tokens: _Tokens, symbol: str) -> None:
    if not tokens.accept(symbol):
        token = tokens.peek()
        where = f"at position {token[2]}" if token else "at the end"
        raise invalid(f"$filter: expected {symbol!r} {where}", hint="check the parentheses and commas")


def _literal(tokens: _Tokens) -> Value:
    kind, text, position = tokens.next("a value")
    if kind == "string":
        return text[1:-1].replace("''", "'")
    if kind == "guid":
        return text.lower()
    if kind == "datetime":
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    if kind == "number":
        return float(text) if "." in text else int(text)
    if kind == "word" and text in ("true", "false"):
        return text == "true"
    if kind == "word" and text == "null":
        return None
    raise invalid(f"$filter: {text!r} at position {position} is not a value", hint="quote strings: 'text'")

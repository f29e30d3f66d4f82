"""FindItem restrictions: the schema's SearchExpression subset clients use, evaluated on stored items.

Supported: IsEqualTo, IsNotEqualTo, IsGreaterThan(OrEqualTo), IsLessThan(OrEqualTo), Contains
(ContainmentMode / ContainmentComparison), Excludes, Exists, And, Or, Not, on FieldURI and
ExtendedFieldURI paths. Constants are compared in the property's own type.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from router.simulator.model import Item
from router.simulator.paths import Path, parse_path, value_of
from router.simulator.xml import Element, child, children, local, pdate, xbool

Predicate = Callable[[Item], bool]

COMPARISONS: dict[str, Callable[[object, object], bool]] = {
    "IsEqualTo": lambda a, b: a == b,
    "IsNotEqualTo": lambda a, b: a != b,
    "IsGreaterThan": lambda a, b: a > b,  # type: ignore[operator]
    "IsGreaterThanOrEqualTo": lambda a, b: a >= b,  # type: ignore[operator]
    "IsLessThan": lambda a, b: a < b,  # type: ignore[operator]
    "IsLessThanOrEqualTo": lambda a, b: a <= b,  # type: ignore[operator]
}


class RestrictionError(ValueError):
    """The restriction uses an expression or a constant this server cannot evaluate."""


def compile_restriction(el: Element | None) -> Predicate:
    """Compile a m:Restriction element (None means everything matches)."""
    exprs = children(el)
    if not exprs:
        return lambda item: True
    return _compile(exprs[0])


def _path_of(expr: Element) -> Path:
    for c in children(expr):
        path = parse_path(c)
        if path is not None:
            return path
    raise RestrictionError(f"{local(expr)} has no property path")


def _coerce(value: object, text: str) -> object:
    if isinstance(value, bool):
        return xbool(text)
    if isinstance(value, int):
        return int(text)
    if isinstance(value, datetime):
        return pdate(text)
    return text


def _compare(
    op: Callable[[object, object], bool], path: Path, constant: str, negate_missing: bool
) -> Predicate:
    def pred(item: Item) -> bool:
        value = value_of(item, path)
        if value is None:
            return negate_missing
        if isinstance(value, list):
            return any(op(str(v).lower(), constant.lower()) for v in value)
        try:
            other = _coerce(value, constant)
        except ValueError:
            return False
        if isinstance(value, str):
            return op(value.lower(), str(other).lower())
        return op(value, other)

    return pred


def _contains(expr: Element, path: Path) -> Predicate:
    const = child(expr, "Constant")
    needle = const.get("Value", "") if const is not None else ""
    mode = expr.get("ContainmentMode", "Substring")
    ignore_case = "IgnoreCase" in expr.get("ContainmentComparison", "Exact") or "Loose" in expr.get(
        "ContainmentComparison", ""
    )

    def test(text: str) -> bool:
        a, b = (text.lower(), needle.lower()) if ignore_case else (text, needle)
        return {
            "FullString": a == b,
            "Prefixed": a.startswith(b),
            "PrefixOnWords": any(w.startswith(b) for w in a.split()),
        }.get(mode, b in a)

    def pred(item: Item) -> bool:
        value = value_of(item, path)
        values = value if isinstance(value, list) else [] if value is None else [value]
        return any(test(str(v)) for v in values)

    return pred


def _excludes(expr: Element, path: Path) -> Predicate:
    """Excludes: true when the integer property has none of the Bitmask's bits set."""
    mask_el = child(expr, "Bitmask")
    text = mask_el.get("Value", "0") if mask_el is not None else "0"
    mask = int(text, 16) if text.lower().startswith("0x") else int(text)

    def pred(item: Item) -> bool:
        value = value_of(item, path)
        return not isinstance(value, int) or isinstance(value, bool) or not value & mask

    return pred


def _compile(expr: Element) -> Predicate:
    name = local(expr)
    if name in ("And", "Or"):
        parts = [_compile(c) for c in children(expr)]
        return (lambda i: all(p(i) for p in parts)) if name == "And" else (lambda i: any(p(i) for p in parts))
    if name == "Not":
        inner = _compile(children(expr)[0])
        return lambda i: not inner(i)
    if name == "Exists":
        path = _path_of(expr)
        return lambda i: value_of(i, path) not in (None, "", [])
    if name in ("Contains", "Excludes"):
        path = _path_of(expr)
        if name == "Contains":
            return _contains(expr, path)
        return _excludes(expr, path)
    if name in COMPARISONS:
        path = _path_of(expr)
        holder = child(expr, "FieldURIOrConstant")
        const = child(holder, "Constant")
        if const is None:
            raise RestrictionError(f"{name} compares two properties, which is not supported")
        return _compare(COMPARISONS[name], path, const.get("Value", ""), name == "IsNotEqualTo")
    raise RestrictionError(f"the restriction '{name}' is not supported")

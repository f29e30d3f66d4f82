"""Namespaces and small lxml helpers for building and reading EWS XML from the schema's point of view.

The simulator never uses exchangelib's builders: every element is named here by its schema namespace
(``types`` or ``messages``) and created with lxml directly, in the order ``types.xsd`` /
``messages.xsd`` declare.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from lxml import etree

SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12_NS = "http://www.w3.org/2003/05/soap-envelope"
T_NS = "http://schemas.microsoft.com/exchange/services/2006/types"
M_NS = "http://schemas.microsoft.com/exchange/services/2006/messages"
E_NS = "http://schemas.microsoft.com/exchange/services/2006/errors"
NSMAP = {"s": SOAP_NS, "t": T_NS, "m": M_NS}
BODY_NSMAP = {"m": M_NS, "t": T_NS}

Element = etree._Element


def t(name: str) -> str:
    """Return the Clark name of ``name`` in the types namespace."""
    return f"{{{T_NS}}}{name}"


def m(name: str) -> str:
    """Return the Clark name of ``name`` in the messages namespace."""
    return f"{{{M_NS}}}{name}"


def sub(parent: Element, tag: str, text: str | None = None, **attrib: str) -> Element:
    """Append a child element with optional text and attributes, and return it."""
    child = etree.SubElement(parent, tag, attrib)
    if text is not None:
        child.text = text
    return child


def tsub(parent: Element, name: str, text: str | None = None, **attrib: str) -> Element:
    """Append a child in the types namespace."""
    return sub(parent, t(name), text, **attrib)


def msub(parent: Element, name: str, text: str | None = None, **attrib: str) -> Element:
    """Append a child in the messages namespace."""
    return sub(parent, m(name), text, **attrib)


def local(el: Element) -> str:
    """Return the local name of an element (without its namespace)."""
    return etree.QName(el).localname


def children(el: Element | None, name: str | None = None) -> list[Element]:
    """Return the element children of ``el`` (optionally only those with local name ``name``)."""
    if el is None:
        return []
    return [c for c in el if isinstance(c.tag, str) and (name is None or local(c) == name)]


def child(el: Element | None, name: str) -> Element | None:
    """Return the first element child with local name ``name``, whatever its namespace."""
    if el is None:
        return None
    for c in el:
        if isinstance(c.tag, str) and local(c) == name:
            return c
    return None


def text_of(el: Element | None, name: str, default: str | None = None) -> str | None:
    """Return the stripped text of the first child named ``name``, or ``default``."""
    c = child(el, name)
    if c is None or c.text is None:
        return default
    return c.text.strip()


def xbool(value: str | None, default: bool = False) -> bool:
    """Parse every lexical form of xs:boolean (``true``, ``false``, ``1``, ``0``)."""
    if value is None:
        return default
    v = value.strip().lower()
    if v in ("true", "1"):
        return True
    if v in ("false", "0"):
        return False
    raise ValueError(f"'{value}' is not a valid xs:boolean")


def fbool(value: bool) -> str:
    """Format a boolean as Exchange writes it."""
    return "true" if value else "false"


def fdate(value: datetime) -> str:
    """Format a datetime as Exchange writes it: UTC, seconds precision, trailing ``Z``."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def pdate(value: str) -> datetime:
    """Parse an xs:dateTime; a value without a zone is taken as UTC, as Exchange does."""
    v = value.strip().replace("Z", "+00:00")
    parsed = datetime.fromisoformat(v)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def strings(el: Element | None) -> list[str]:
    """Return the texts of the ``t:String`` children of an ArrayOfStringsType element."""
    return [(c.text or "").strip() for c in children(el, "String")]


def add_strings(parent: Element, name: str, values: Iterable[str]) -> Element:
    """Append an ArrayOfStringsType element holding ``values``."""
    arr = tsub(parent, name)
    for v in values:
        tsub(arr, "String", v)
    return arr

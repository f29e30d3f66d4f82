"""Findings gathered while one legacy file is walked, and the leaf readers that produce them.

A reader never drops anything silently: each element is either read into the model or reported here
with its XML path — unknown elements, stray attributes and text, values that do not parse. Values of
elements whose name suggests a secret are never copied into a finding.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TypeVar

from lxml import etree

from router.legacy.model import Finding, FindingKind, Severity
from router.legacy.xmlfile import child_elements, local_name, source_line, xml_path

E = TypeVar("E")

_SECRET_NAME = re.compile(r"pass|pwd|secret|key|token|credential", re.IGNORECASE)
_MAX_SHOWN = 80

TRUE_WORDS = frozenset({"true", "1", "yes", "on", "enabled"})
FALSE_WORDS = frozenset({"false", "0", "no", "off", "disabled"})


def shorten(text: str) -> str:
    """Return ``text`` on one line, cut to a length fit for a report."""
    flat = " ".join(text.split())
    return flat if len(flat) <= _MAX_SHOWN else flat[: _MAX_SHOWN - 1] + "…"


def is_secret_name(name: str) -> bool:
    """Return True when an element or attribute name suggests it holds a secret."""
    return bool(_SECRET_NAME.search(name))


class Collector:
    """The findings of one file, and helpers that read leaf values while reporting what is wrong."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.findings: list[Finding] = []

    def add(self, element: etree._Element, kind: FindingKind, message: str, *,
            severity: Severity = Severity.WARNING, value: str | None = None, path: str | None = None) -> None:
        """Record one finding about ``element`` (or about ``path`` inside it)."""
        self.findings.append(Finding(
            file=self.file, path=path or xml_path(element), kind=kind, message=message,
            severity=severity, line=source_line(element), value=value))

    def unmapped(self, element: etree._Element, where: str) -> None:
        """Report an element (with its whole subtree) that has no counterpart in the new router."""
        name = local_name(element)
        value = None
        if not is_secret_name(name) and not child_elements(element) and (element.text or "").strip():
            value = shorten(element.text or "")
        inner = sum(1 for d in element.iterdescendants() if isinstance(d.tag, str))
        detail = f" (and the {inner} element(s) inside it)" if inner else ""
        self.add(element, FindingKind.UNMAPPED_ELEMENT,
                 f"unknown element <{name}> in {where}{detail}: not imported", value=value)

    def check_attributes(self, element: etree._Element) -> None:
        """Report every attribute: the legacy files carry their data in elements only."""
        for attribute, text in element.attrib.items():
            name = etree.QName(attribute).localname
            shown = None if is_secret_name(name) else shorten(str(text))
            self.add(element, FindingKind.UNMAPPED_ATTRIBUTE,
                     f"attribute {name!r} on <{local_name(element)}> is not part of the legacy format: "
                     "not imported", value=shown, path=f"{xml_path(element)}/@{name}")

    def check_container_text(self, element: etree._Element) -> None:
        """Report non-blank text between the children of a container element."""
        pieces = [element.text or ""] + [child.tail or "" for child in element]
        stray = " ".join(p.strip() for p in pieces if p.strip())
        if stray:
            self.add(element, FindingKind.UNEXPECTED_TEXT,
                     f"text inside <{local_name(element)}> outside any element: not imported",
                     value=shorten(stray))

    def leaf_text(self, element: etree._Element) -> str | None:
        """Return the stripped text of a leaf element (None when blank), reporting any children."""
        self.check_attributes(element)
        for child in child_elements(element):
            self.unmapped(child, f"<{local_name(element)}>, which holds a single value")
        text = (element.text or "").strip()
        return text or None

    def read_int(self, element: etree._Element, minimum: int, maximum: int) -> int | None:
        """Return the element's integer value, or None (reported) when blank, malformed or out of range."""
        text = self.leaf_text(element)
        name = local_name(element)
        if text is None:
            self.add(element, FindingKind.BAD_VALUE, f"<{name}> is empty: the default applies")
            return None
        try:
            number = int(text)
        except ValueError:
            self.add(element, FindingKind.BAD_VALUE,
                     f"<{name}> must be a whole number: the default applies", value=shorten(text))
            return None
        if not minimum <= number <= maximum:
            self.add(element, FindingKind.BAD_VALUE,
                     f"<{name}> must be between {minimum} and {maximum}: the default applies",
                     value=shorten(text))
            return None
        return number

    def read_bool(self, element: etree._Element) -> bool | None:
        """Return the element's boolean value, or None (reported) when it is not a recognised word."""
        text = self.leaf_text(element)
        word = (text or "").lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
        self.add(element, FindingKind.BAD_VALUE,
                 f"<{local_name(element)}> must be true or false: ignored", value=shorten(text or ""))
        return None

    def read_choice(self, element: etree._Element, table: Mapping[str, E]) -> E | None:
        """Return the enum member ``table`` gives for the element's text (compared without case,
        spaces, dashes or underscores), or None (reported) for a value outside the table."""
        text = self.leaf_text(element)
        key = re.sub(r"[\s_\-]", "", (text or "").lower())
        if key in table:
            return table[key]
        self.add(element, FindingKind.BAD_VALUE,
                 f"<{local_name(element)}> has a value this importer does not know: ignored",
                 value=shorten(text or ""))
        return None

    def duplicate(self, element: etree._Element) -> None:
        """Report a repeated single-valued element; the first occurrence is the one imported."""
        self.add(element, FindingKind.DUPLICATE,
                 f"<{local_name(element)}> appears more than once here: only the first is imported")

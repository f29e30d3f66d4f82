"""The part of Exchange's schema validation a client meets most: text-only elements and abstract heads.

Exchange validates every request against its schema before running it and answers a violation with
an ErrorSchemaValidation fault giving the line, position and .NET's message. The simulator checks
what clients get wrong in practice, without needing the schema files:

* markup that was not escaped inside a text-only element (``<t:Body BodyType="HTML"><p>Hi</p>``): the
  HTML becomes child elements, which a string-typed element cannot hold; Exchange refuses the request
  (it does not store an empty body);
* an abstract substitution-group head written instead of a member (``<t:Path xsi:type=…>`` in place
  of ``<t:FieldURI>``), as schema-driven SOAP libraries tend to write a path.
"""

from __future__ import annotations

from lxml import etree

from router.simulator.xml import T_NS, Element, local

TEXT_ONLY = frozenset({
    "Body", "Subject", "MimeContent", "Content", "InternetMessageId", "InReplyTo", "References", "ItemClass",
    "Importance", "Sensitivity", "String", "EmailAddress", "Name", "DisplayName", "Value", "IsRead",
    "ContentId", "ContentType", "ConversationTopic",
})
"""Elements of types.xsd whose type is a simple type (or simple content): no child elements allowed."""

ABSTRACT = frozenset({"Path"})
"""Abstract element declarations of types.xsd: only members of their substitution groups may appear."""


def violation(op: Element) -> tuple[str, int] | None:
    """The first schema violation of these kinds in the request element ``op``: (message, line)."""
    for el in op.iter(f"{{{T_NS}}}*"):
        name = local(el)
        if name in ABSTRACT:
            return f"The element '{T_NS}:{name}' is abstract or its type is abstract.", _line(el)
        if name in TEXT_ONLY:
            inner = next((c for c in el if isinstance(c.tag, str)), None)
            if inner is not None:
                child_name = etree.QName(inner).localname
                return (f"The element '{name}' in namespace '{T_NS}' cannot contain child element "
                        f"'{child_name}' because the parent element's content model is text only.",
                        _line(inner))
    return None


def _line(el: Element) -> int:
    line = el.sourceline
    return line if isinstance(line, int) else 0

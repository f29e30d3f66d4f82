"""Requests and replies of the facade, and how a Web API URL names what it addresses.

``/[<org>/]api/data/v<version>/<resource>`` where the resource is ``$metadata``, an unbound function
(``CheckIncomingEmail(MessageId=@p1,…)``) or action (``BackgroundSendEmail``), an entity set, one entity
(``emails(<guid>)``), a collection navigation (``emails(<guid>)/email_activity_parties``) or an operation
bound to a set or an entity (``emails/Microsoft.Dynamics.CRM.DeliverIncomingEmail``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from router.crm.codes import ErrorCode
from router.crm.embedded.rows import invalid
from router.errors import CrmPermanentError

VERSIONS = ("8.0", "8.1", "8.2", "9.0", "9.1", "9.2")
NAMESPACE = "Microsoft.Dynamics.CRM."
_PREFIX = re.compile(r"^(?P<prefix>(?:/[^/]+)?/api/data/v(?P<version>\d+\.\d+)/)(?P<rest>.*)$")
_SEGMENT = re.compile(r"^(?P<name>[A-Za-z_$][\w.$]*)(?:\((?P<args>.*)\))?$", re.S)
_GUID = re.compile(r"^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$")


@dataclass(frozen=True)
class Request:
    """One authenticated Web API request."""

    method: str
    version: str
    base_url: str
    segments: tuple[str, ...]
    query: Mapping[str, str]
    raw_query: str
    headers: Mapping[str, str]
    body: bytes
    principal: str

    def json(self) -> dict[str, Any]:
        """The request body as a JSON object (an empty body is an empty object)."""
        if not self.body.strip():
            return {}
        try:
            value = json.loads(self.body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise invalid(f"the request body is not valid JSON: {exc}", hint="send application/json") from exc
        if not isinstance(value, dict):
            raise invalid("the request body must be a JSON object", hint='send {"Name": value, ...}')
        return value

    @property
    def supports_representation(self) -> bool:
        """``Prefer: return=representation`` exists from v8.2 (the December 2016 update) on."""
        return self.version not in ("8.0", "8.1")


@dataclass
class Reply:
    """What the facade answers: a status, JSON (or raw bytes) and headers."""

    status: int
    body: dict[str, object] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None
    content_type: str = "application/json; odata.metadata=minimal"


@dataclass(frozen=True)
class Segment:
    """One path segment: a name and, when present, what its parentheses held."""

    name: str
    args: str | None


def split_path(path: str) -> tuple[str, str, tuple[str, ...]] | None:
    """Return (version, prefix, segments) for a Web API path, or None if it is not one."""
    match = _PREFIX.match(path)
    if match is None or match.group("version") not in VERSIONS:
        return None
    rest = match.group("rest")
    segments = tuple(unquote(s) for s in rest.split("/")) if rest else ()
    return match.group("version"), match.group("prefix"), segments


def parse_segment(text: str) -> Segment:
    """Split ``name(args)``; refuse anything else as a missing resource."""
    match = _SEGMENT.match(text)
    if match is None:
        raise not_found(text)
    return Segment(match.group("name"), match.group("args"))


def parse_key(args: str | None, segment: str) -> str:
    """Return the GUID key in ``set(<guid>)``."""
    if args is None or not _GUID.match(args.strip()):
        raise invalid(
            f"{segment}: the key must be a GUID, e.g. emails(00000000-0000-0000-0000-000000000001)",
            hint="alternate keys are not supported",
        )
    return args.strip().lower()


def not_found(segment: str) -> CrmPermanentError:
    """The error for a URL segment the service does not know."""
    return CrmPermanentError(
        f"Resource not found for the segment '{segment}'.",
        code=ErrorCode.SEGMENT_NOT_FOUND,
        hint="check the entity set, function or action name (they are case-sensitive)",
    )


def method_not_allowed(method: str, segment: str) -> CrmPermanentError:
    """The error for a method the resource does not support."""
    return CrmPermanentError(
        f"The HTTP method {method} is not supported for '{segment}'.",
        code=ErrorCode.METHOD_NOT_ALLOWED,
        hint="functions are called with GET, actions with POST",
    )


def function_arguments(args: str, query: Mapping[str, str]) -> dict[str, object]:
    """Parse ``A=@p1,B='x'`` into parameter values, resolving ``@alias`` from the query string."""
    values: dict[str, object] = {}
    for part in _split_top_level(args):
        name, equals, text = part.partition("=")
        if not equals:
            raise invalid(
                f"function parameter {part!r} has no value", hint="write Name=@alias or Name='value'"
            )
        text = text.strip()
        if text.startswith("@"):
            if text not in query:
                raise invalid(
                    f"the parameter alias {text} has no value in the query string",
                    hint=f"add &{text}=<value>",
                )
            text = query[text]
        values[name.strip()] = literal(text)
    return values


def literal(text: str) -> object:
    """An OData URL literal: 'string', null, true/false, a number, or a JSON object."""
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] == "'":
        return text[1:-1].replace("''", "'")
    if text == "null":
        return None
    if text in ("true", "false"):
        return text == "true"
    if text.startswith("{"):
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise invalid(f"the parameter value {text[:60]!r} is not a JSON object", hint="use JSON") from exc
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    raise invalid(f"{text[:60]!r} is not an OData literal", hint="quote strings: 'text'")


def _split_top_level(text: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    depth, quoted = 0, False
    for char in text:
        if char == "'":
            quoted = not quoted
        elif not quoted and char in "({":
            depth += 1
        elif not quoted and char in ")}":
            depth -= 1
        if char == "," and depth == 0 and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    if "".join(current).strip():
        parts.append("".join(current))
    return [p for p in parts if p.strip()]

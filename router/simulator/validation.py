"""Schema validation of request and response bodies against the official EWS schema (test mode).

Production paths never validate (it costs more than building the response); tests hand a
SchemaValidator to the server, which checks the element inside every soap:Body and every SOAP header
it reads or writes, and records failures for the test to assert empty.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from router.errors import SimulatorError

_COPY_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)
"""Re-reads an element the simulator built; huge_tree because items carry MIME of up to 35 MB."""


def load_schema(directory: Path) -> etree.XMLSchema:
    """Compile ``directory``/messages.xsd (with types.xsd); about 0.2 s, so load it once and share it.

    Where the schema lives is the caller's business (the tests look at ``$EWS_SCHEMA_DIR`` and a shared
    copy beside the clone); the product never ships or searches for it.
    """
    try:
        return etree.XMLSchema(etree.parse(str(directory / "messages.xsd")))
    except (OSError, etree.XMLSchemaParseError) as exc:
        raise SimulatorError(
            f"cannot load the EWS schema from {directory}: {exc}",
            hint="point EWS_SCHEMA_DIR at an unmodified copy of the schema",
        ) from exc


@dataclass(frozen=True)
class Violation:
    """One element that did not validate."""

    direction: str
    operation: str
    message: str


class SchemaValidator:
    """Validates EWS elements against messages.xsd (loaded once) and records every violation."""

    def __init__(self, *, schema: etree.XMLSchema) -> None:
        self._schema = schema
        self._lock = threading.Lock()
        self.violations: list[Violation] = []
        self.checked = 0
        self.allowed: list[tuple[str, str]] = []

    def fork(self) -> SchemaValidator:
        """A fresh validator (no violations recorded) sharing this one's compiled schema."""
        return SchemaValidator(schema=self._schema)

    def check(self, direction: str, operation: str, element: etree._Element) -> None:
        """Validate ``element`` (a body child or a header); record a Violation when it fails."""
        copy = etree.fromstring(etree.tostring(element), _COPY_PARSER)
        ok = self._schema.validate(copy)
        with self._lock:
            self.checked += 1
            if ok:
                return
            message = "; ".join(str(e) for e in self._schema.error_log) or "invalid"  # type: ignore[attr-defined]
            if any(op == operation and fragment in message for op, fragment in self.allowed):
                return
            self.violations.append(Violation(direction, operation, message))

    def allow(self, operation: str, fragment: str) -> None:
        """Accept a known client quirk (e.g. exchangelib's m:Watermark in Subscribe)."""
        with self._lock:
            self.allowed.append((operation, fragment))

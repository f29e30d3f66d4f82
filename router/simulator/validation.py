"""Schema validation of request and response bodies against the official EWS schema (test mode).

Production paths never validate (it costs more than building the response); tests hand a
SchemaValidator to the server, which checks the element inside every soap:Body and every SOAP header
it reads or writes, and records failures for the test to assert empty.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from router.errors import SimulatorError

ENV_SCHEMA_DIR = "EWS_SCHEMA_DIR"
_COPY_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)
"""Re-reads an element the simulator built; huge_tree because items carry MIME of up to 35 MB."""


def find_schema_dir(start: Path | None = None) -> Path | None:
    """Locate the shared schema: ``$EWS_SCHEMA_DIR``, else ``shared/ews-schema`` beside a parent.

    Returns None when the variable is unset and no parent has the schema (a user's clone has no
    ``shared/`` beside it). A variable that names a directory without ``messages.xsd`` is an error: the
    caller asked for validation explicitly.
    """
    env = os.environ.get(ENV_SCHEMA_DIR)
    if env:
        if not (Path(env) / "messages.xsd").is_file():
            raise SimulatorError(
                f"{ENV_SCHEMA_DIR}={env} holds no messages.xsd",
                hint=f"point {ENV_SCHEMA_DIR} at the directory with messages.xsd and types.xsd, or unset it",
            )
        return Path(env)
    here = (start or Path(__file__)).resolve()
    for parent in here.parents:
        candidate = parent / "shared" / "ews-schema"
        if (candidate / "messages.xsd").is_file():
            return candidate
    return None


def load_schema(schema_dir: Path | None = None) -> etree.XMLSchema:
    """Compile messages.xsd (with types.xsd); about 0.2 s, so load it once and share it."""
    directory = schema_dir or find_schema_dir()
    if directory is None:
        raise SimulatorError(
            "the EWS schema (messages.xsd) was not found",
            hint=f"set {ENV_SCHEMA_DIR} to the directory holding messages.xsd and types.xsd",
        )
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

    def __init__(self, schema_dir: Path | None = None, *, schema: etree.XMLSchema | None = None) -> None:
        self._schema = schema if schema is not None else load_schema(schema_dir)
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

"""Read the legacy files an admin names, tell them apart by their root element, and gather findings.

``read_installation(paths)`` accepts files and directories. A file named on the command line must be a
legacy configuration or SystemState file, whatever its name; in a directory, every ``*.xml`` file is
examined and the ones that are neither (``EncryptionKey.xml``, for instance) are skipped with a note.
Every unreadable file is reported in one LegacyImportError, not just the first.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from router.errors import LegacyImportError
from router.legacy.collect import Collector
from router.legacy.config_reader import is_agent_config, read_agent_config
from router.legacy.model import (
    Finding,
    FindingKind,
    LegacyAgentConfig,
    LegacyInstallation,
    LegacySystemState,
    Severity,
)
from router.legacy.state_reader import looks_like_state, read_system_state
from router.legacy.xmlfile import load_xml, local_name, source_line

_WRONG_ROOT_HINT = (
    "pass Microsoft.Crm.Tools.EmailAgent.xml (root <Configuration>) and/or "
    "Microsoft.Crm.Tools.EmailAgent.SystemState.xml (per-mailbox entries with <emailaddress> and "
    "<thresholddate>)"
)

LegacyDocument = LegacyAgentConfig | LegacySystemState


def read_document(path: Path, *, strict: bool = True) -> tuple[LegacyDocument | None, list[Finding]]:
    """Read one file. With ``strict``, a file of neither kind is an error; otherwise it is skipped."""
    root = load_xml(path)
    collector = Collector(str(path))
    if is_agent_config(root):
        return read_agent_config(collector, root), collector.findings
    if looks_like_state(root):
        return read_system_state(collector, root), collector.findings
    if strict:
        raise LegacyImportError(
            f"root element <{local_name(root)}> is neither a legacy router configuration nor its "
            "SystemState", path=str(path), hint=_WRONG_ROOT_HINT)
    skipped = Finding(file=str(path), path=f"/{local_name(root)}", kind=FindingKind.SKIPPED_FILE,
                      message=f"root <{local_name(root)}> is not a legacy router file: skipped",
                      severity=Severity.INFO, line=source_line(root))
    return None, [skipped]


def expand(paths: Iterable[Path]) -> list[tuple[Path, bool]]:
    """Return each file to read with whether it was named explicitly (strict) or found in a directory."""
    files: list[tuple[Path, bool]] = []
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.suffix.lower() == ".xml" and p.is_file())
            if not found:
                raise LegacyImportError("the directory holds no .xml file", path=str(path),
                                        hint=_WRONG_ROOT_HINT)
            files.extend((p, False) for p in found)
        else:
            files.append((path, True))
    return files


def _combined(errors: Sequence[LegacyImportError]) -> LegacyImportError:
    """Return one error carrying every file's failure."""
    if len(errors) == 1:
        return errors[0]
    lines = "\n".join(f"  - {e.path}: {e.message}" for e in errors)
    hints = dict.fromkeys(e.hint for e in errors if e.hint)
    return LegacyImportError(f"{len(errors)} legacy files could not be read:\n{lines}", hint="; ".join(hints))


def read_installation(paths: Sequence[Path]) -> LegacyInstallation:
    """Read every file (or directory of files) in ``paths`` into one LegacyInstallation.

    Raises LegacyImportError, listing every failing file, when any file cannot be read; and when the
    files hold neither a configuration nor a SystemState.
    """
    if not paths:
        raise LegacyImportError("no legacy file given", hint=_WRONG_ROOT_HINT)
    configs: list[LegacyAgentConfig] = []
    states: list[LegacySystemState] = []
    findings: list[Finding] = []
    errors: list[LegacyImportError] = []
    for path, strict in expand(paths):
        try:
            document, found = read_document(path, strict=strict)
        except LegacyImportError as exc:
            errors.append(exc)
            continue
        findings.extend(found)
        if isinstance(document, LegacyAgentConfig):
            configs.append(document)
        elif isinstance(document, LegacySystemState):
            states.append(document)
    if errors:
        raise _combined(errors)
    if not configs and not states:
        raise LegacyImportError("none of the files is a legacy router configuration or SystemState",
                                hint=_WRONG_ROOT_HINT)
    return LegacyInstallation(configs=tuple(configs), states=tuple(states), findings=tuple(findings))

"""Import a legacy Microsoft Dynamics CRM E-mail Router installation.

Public API::

    read_installation(paths) -> LegacyInstallation        files or directories; raises LegacyImportError
        .configs (LegacyAgentConfig: system, overrides, providers)   .states (LegacySystemState)
        .findings (Finding: file, path, line, kind, severity, message, value)
    plan_import(installation, clock) -> ImportResult       router.legacy.importer; writes nothing
        .files {name: ProfileFile}  .credentials (CredentialNeed .command())  .findings  .stats
    write_import(result, out_dir, force=False)            router.legacy.output; staged, validated, moved

``read_installation`` tells ``Microsoft.Crm.Tools.EmailAgent.xml`` and
``Microsoft.Crm.Tools.EmailAgent.SystemState.xml`` apart by their root element, parses them with a
hardened parser, and records a ``Finding`` for every element, attribute or value it could not carry
over, each with its file and XML path. ``plan_import`` maps that onto our profiles (settings, profiles,
deployments, mailbox bindings with ``process_from`` from the SystemState threshold dates) and lists the
credentials to set; ``write_import`` writes the TOML files and the two report files.
"""

from __future__ import annotations

from router.legacy.loader import read_installation
from router.legacy.model import (
    Finding,
    FindingKind,
    LegacyAgentConfig,
    LegacyInstallation,
    LegacyMailboxState,
    LegacyOverrides,
    LegacyProvider,
    LegacySystemSettings,
    LegacySystemState,
    Severity,
    ThresholdStatus,
)

__all__ = [
    "Finding",
    "FindingKind",
    "LegacyAgentConfig",
    "LegacyInstallation",
    "LegacyMailboxState",
    "LegacyOverrides",
    "LegacyProvider",
    "LegacySystemSettings",
    "LegacySystemState",
    "Severity",
    "ThresholdStatus",
    "read_installation",
]

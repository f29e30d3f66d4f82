"""Import a legacy Microsoft Dynamics CRM E-mail Router installation.

``read_installation(paths)`` reads ``Microsoft.Crm.Tools.EmailAgent.xml`` and
``Microsoft.Crm.Tools.EmailAgent.SystemState.xml`` (told apart by their root element) into a typed
``LegacyInstallation`` together with a ``Finding`` for every element, attribute or value it could not
carry over, each with its file and XML path. Files that cannot be read at all raise
``router.errors.LegacyImportError``.
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

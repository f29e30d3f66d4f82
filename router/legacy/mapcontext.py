"""State shared by the mapping steps: the import instant, the findings, names handed out, credentials.

The mapping turns a ``LegacyInstallation`` into our profiles. Each step reports what it could not carry
over into ``findings`` and registers every vault credential the new configuration names into
``credentials``, so the admin gets one list of `email-router credentials set` commands to run.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from datetime import datetime

from router.legacy.model import Finding, FindingKind, Severity
from router.legacy.names import NameBook
from router.vault.credentials import CredentialKind


@dataclass(frozen=True)
class CredentialNeed:
    """A credential the imported configuration names and the admin must store in the vault.

    ``username`` is the legacy account name when the files held one (never a password: legacy passwords
    are encrypted with the legacy router's key and cannot be read).
    """

    name: str
    kind: CredentialKind
    purpose: str
    username: str | None = None
    used_by: tuple[str, ...] = ()

    def command(self) -> str:
        """Return the shell command that stores this credential (the secret is prompted, never echoed)."""
        words = ["email-router", "credentials", "set", self.name]
        if self.kind is not CredentialKind.PASSWORD:
            words += ["--kind", self.kind.value]
        elif self.username:
            words += ["--username", self.username]
        return " ".join(shlex.quote(word) for word in words)


@dataclass
class MapContext:
    """What every mapping step reads and adds to."""

    now: datetime
    findings: list[Finding] = field(default_factory=list)
    profile_names: NameBook = field(default_factory=NameBook)
    deployment_names: NameBook = field(default_factory=NameBook)
    credential_names: NameBook = field(default_factory=lambda: NameBook(allow_at=True, limit=128))
    credentials: dict[str, CredentialNeed] = field(default_factory=dict)
    credential_keys: dict[str, str] = field(default_factory=dict)
    """Legacy account (case-folded) -> the credential name given to it, so one account is set once."""

    def report(self, file: str, path: str, kind: FindingKind, message: str, *,
               severity: Severity = Severity.WARNING, line: int | None = None,
               value: str | None = None) -> None:
        """Record one finding of the mapping step."""
        self.findings.append(Finding(file=file, path=path, kind=kind, message=message, severity=severity,
                                     line=line, value=value))

    def need_credential(self, key: str, wish: str, kind: CredentialKind, purpose: str, *,
                        username: str | None, user: str) -> str:
        """Return the credential for ``key`` (one per legacy account), recording that ``user`` uses it."""
        existing = self.credential_keys.get(key.casefold())
        if existing is None:
            existing = self.credential_names.claim(wish, "legacy-account")
            self.credential_keys[key.casefold()] = existing
            self.credentials[existing] = CredentialNeed(existing, kind, purpose, username)
        need = self.credentials[existing]
        purposes = need.purpose if purpose in need.purpose else f"{need.purpose}; {purpose}"
        users = need.used_by if user in need.used_by else (*need.used_by, user)
        self.credentials[existing] = CredentialNeed(need.name, need.kind, purposes, need.username, users)
        return existing

"""The typed intermediate model of a legacy E-mail Router installation, as read from its XML files.

The readers turn ``Microsoft.Crm.Tools.EmailAgent.xml`` into a ``LegacyAgentConfig`` and
``Microsoft.Crm.Tools.EmailAgent.SystemState.xml`` into a ``LegacySystemState``. Nothing here knows
about our own profiles: the mapping to TOML is a separate step, so the reader can be tested (and
trusted) on its own. Every value keeps the XML path it came from, so a report can point at it.

Time intervals stay in the legacy unit (milliseconds, per the 2008 CRM team blog); converting to human
units is the mapper's job. Secrets are never carried: a password element only sets a ``has_*`` flag.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class Severity(StrEnum):
    """How much a finding matters to the admin reading the import report."""

    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


class FindingKind(StrEnum):
    """What sort of thing a finding reports."""

    UNMAPPED_ELEMENT = "unmapped-element"
    UNMAPPED_ATTRIBUTE = "unmapped-attribute"
    UNEXPECTED_TEXT = "unexpected-text"
    BAD_VALUE = "bad-value"
    DUPLICATE = "duplicate"
    SECRET_NOT_IMPORTED = "secret-not-imported"
    THRESHOLD_RESET = "threshold-reset"
    THRESHOLD_INVALID = "threshold-invalid"
    THRESHOLD_MISSING = "threshold-missing"
    THRESHOLD_ASSUMED_UTC = "threshold-assumed-utc"
    UNSUPPORTED = "unsupported"
    SKIPPED_FILE = "skipped-file"


@dataclass(frozen=True)
class Finding:
    """One thing the import could not carry over as-is: the file, the XML path, and why.

    ``line`` is the source line when lxml knows it. ``value`` is the offending text, already cut short,
    and never a secret (password elements are reported without their value).
    """

    file: str
    path: str
    kind: FindingKind
    message: str
    severity: Severity = Severity.WARNING
    line: int | None = None
    value: str | None = None

    def where(self) -> str:
        """Return ``file:line path`` for display (findings about the import as a whole have no file)."""
        line = f":{self.line}" if self.line else ""
        return " ".join(part for part in (f"{self.file}{line}", self.path) if part) or "(import)"


class Direction(StrEnum):
    """Direction of a legacy provider instance (a profile's Direction in the Configuration Manager)."""

    INCOMING = "incoming"
    OUTGOING = "outgoing"


class ServerType(StrEnum):
    """E-mail server type of a legacy profile (reference §1.2)."""

    EXCHANGE_2003 = "exchange-2003"
    EXCHANGE_2007 = "exchange-2007"
    EXCHANGE_2010 = "exchange-2010"
    EXCHANGE_2013 = "exchange-2013"
    EXCHANGE_ONLINE = "exchange-online"
    POP3 = "pop3"
    SMTP = "smtp"


class AuthMode(StrEnum):
    """Authentication type of a legacy profile towards the e-mail server."""

    WINDOWS = "windows"
    CLEAR_TEXT = "clear-text"
    ANONYMOUS = "anonymous"


class CredentialMode(StrEnum):
    """Access Credentials of a legacy profile: whose identity opens the mailbox."""

    LOCAL_SYSTEM = "local-system"
    USER_SPECIFIED = "user-specified"
    OTHER_SPECIFIED = "other-specified"


class UserType(StrEnum):
    """Outgoing User type: Administrator (sends for others) or User (sends as itself)."""

    ADMINISTRATOR = "administrator"
    USER = "user"


class AccessType(StrEnum):
    """Outgoing access type for an Administrator: Delegate (Send On Behalf) or Send As."""

    DELEGATE = "delegate"
    SEND_AS = "send-as"


class CrmAuthMode(StrEnum):
    """How the legacy router authenticated to the CRM server of a provider."""

    LOCAL_SYSTEM = "local-system"
    WINDOWS = "windows"
    PASSPORT = "passport"
    CLAIMS = "claims"


class ThresholdStatus(StrEnum):
    """What the SystemState said about a mailbox's high-water mark."""

    VALID = "valid"
    RESET = "reset"
    INVALID = "invalid"
    MISSING = "missing"


@dataclass(frozen=True)
class LegacySystemSettings:
    """``<SystemConfiguration>`` scalars; ``None`` where the file did not set (or mangled) a value."""

    max_threads: int | None = None
    max_thread_execution_ms: int | None = None
    scheduling_period_ms: int | None = None
    config_refresh_period_ms: int | None = None
    config_update_period_ms: int | None = None
    log_level: int | None = None
    log_file: str | None = None


@dataclass(frozen=True)
class LegacyOverrides:
    """``<ProviderOverrides>``, system-wide or inside one ``<ProviderConfiguration>``."""

    cache_capacity: int | None = None
    pending_status_delay_ms: int | None = None
    sending_status_delay_ms: int | None = None
    maximum_delivery_attempts: int | None = None
    ews_retrieve_message_count: int | None = None
    batch_size: int | None = None
    request_batch_size: int | None = None

    def is_empty(self) -> bool:
        """Return True when no override was set."""
        return all(getattr(self, name) is None for name in self.__dataclass_fields__)


@dataclass(frozen=True)
class LegacyProvider:
    """One ``<ProviderConfiguration>``: a provider instance serving one mailbox or a group of them.

    ``email_address`` is the mailbox the provider polls or sends from (for a forward mailbox, the
    forward mailbox itself); ``user_ids`` and ``queue_ids`` are the CRM records it serves.
    """

    file: str
    path: str
    line: int | None
    name: str | None = None
    provider_class: str | None = None
    direction: Direction | None = None
    server_type: ServerType | None = None
    crm_server_url: str | None = None
    crm_auth_mode: CrmAuthMode | None = None
    crm_user: str | None = None
    has_crm_password: bool = False
    email_server_url: str | None = None
    use_autodiscover: bool | None = None
    use_ssl: bool | None = None
    auth_mode: AuthMode | None = None
    credential_mode: CredentialMode | None = None
    email_user: str | None = None
    has_email_password: bool = False
    user_type: UserType | None = None
    access_type: AccessType | None = None
    email_address: str | None = None
    user_ids: tuple[str, ...] = ()
    queue_ids: tuple[str, ...] = ()
    is_forward_mailbox: bool = False
    delete_after_processing: bool | None = None
    enabled: bool = True
    overrides: LegacyOverrides = field(default_factory=LegacyOverrides)
    elements: dict[str, tuple[str, int | None]] = field(default_factory=dict, compare=False)
    """Element name (lower case) -> (its XML path, its line), for reports about a present element."""

    def where(self, element: str) -> tuple[str, int | None]:
        """Return the path and line of child ``element`` if the file has it, else the provider's own."""
        return self.elements.get(element.lower(), (self.path, self.line))

    def label(self) -> str:
        """Return a short human name: the provider's name, its mailbox, or its XML path."""
        return self.name or self.email_address or self.path


@dataclass(frozen=True)
class LegacyAgentConfig:
    """A whole ``Microsoft.Crm.Tools.EmailAgent.xml``."""

    file: str
    system: LegacySystemSettings
    overrides: LegacyOverrides
    providers: tuple[LegacyProvider, ...]
    elements: dict[str, tuple[str, int | None]] = field(default_factory=dict, compare=False)
    """System setting element name (lower case) -> (its XML path, its line), first occurrence."""

    def where(self, element: str) -> tuple[str, int | None]:
        """Return the path and line of a system setting element (an XPath search when not recorded)."""
        return self.elements.get(element.lower(), (f"/Configuration/SystemConfiguration//{element}", None))


@dataclass(frozen=True)
class LegacyMailboxState:
    """One mailbox entry of the SystemState file.

    ``key`` is the entry's element name (the legacy router names entries by an opaque identity hash).
    ``threshold`` is set only when ``threshold_status`` is VALID; it is always timezone-aware.
    """

    file: str
    path: str
    line: int | None
    key: str
    email_address: str | None
    last_error: str | None
    threshold: datetime | None
    threshold_status: ThresholdStatus


@dataclass(frozen=True)
class LegacySystemState:
    """A whole ``Microsoft.Crm.Tools.EmailAgent.SystemState.xml``."""

    file: str
    root: str
    mailboxes: tuple[LegacyMailboxState, ...]


@dataclass(frozen=True)
class LegacyInstallation:
    """Everything read from the files given to the importer, with every finding along the way."""

    configs: tuple[LegacyAgentConfig, ...] = ()
    states: tuple[LegacySystemState, ...] = ()
    findings: tuple[Finding, ...] = ()

    @property
    def providers(self) -> tuple[LegacyProvider, ...]:
        """Return the providers of every configuration file, in file order."""
        return tuple(p for config in self.configs for p in config.providers)

    @property
    def mailbox_states(self) -> tuple[LegacyMailboxState, ...]:
        """Return the mailbox entries of every SystemState file, in file order."""
        return tuple(m for state in self.states for m in state.mailboxes)

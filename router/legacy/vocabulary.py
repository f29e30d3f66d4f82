"""The values the legacy files use for profile-like settings, and what each one means here.

No Microsoft page documents the ``<ProviderConfiguration>`` vocabulary in full (reference §2.4, §7):
these tables accept the names the Configuration Manager shows (§1.2, §1.3) and the provider class
names of the CRM SDK (§2.7), compared without case, spaces, dashes or underscores. A value outside a
table is reported, never guessed.
"""

from __future__ import annotations

from router.legacy.model import (
    AccessType,
    AuthMode,
    CredentialMode,
    CrmAuthMode,
    Direction,
    ServerType,
    UserType,
)

DIRECTIONS: dict[str, Direction] = {
    "incoming": Direction.INCOMING, "inbound": Direction.INCOMING, "in": Direction.INCOMING,
    "outgoing": Direction.OUTGOING, "outbound": Direction.OUTGOING, "out": Direction.OUTGOING,
}

SERVER_TYPES: dict[str, ServerType] = {
    "exchange2003": ServerType.EXCHANGE_2003, "webdav": ServerType.EXCHANGE_2003,
    "exchange2007": ServerType.EXCHANGE_2007,
    "exchange2010": ServerType.EXCHANGE_2010,
    "exchange2010or2013": ServerType.EXCHANGE_2013, "exchange2013": ServerType.EXCHANGE_2013,
    "exchange": ServerType.EXCHANGE_2013, "exchangeserver": ServerType.EXCHANGE_2013,
    "exchangeonline": ServerType.EXCHANGE_ONLINE, "office365": ServerType.EXCHANGE_ONLINE,
    "pop3": ServerType.POP3,
    "smtp": ServerType.SMTP,
}

AUTH_MODES: dict[str, AuthMode] = {
    "windowsauthentication": AuthMode.WINDOWS, "windows": AuthMode.WINDOWS,
    "integrated": AuthMode.WINDOWS, "ntlm": AuthMode.WINDOWS, "kerberos": AuthMode.WINDOWS,
    "negotiate": AuthMode.WINDOWS,
    "cleartext": AuthMode.CLEAR_TEXT, "basic": AuthMode.CLEAR_TEXT,
    "anonymous": AuthMode.ANONYMOUS, "none": AuthMode.ANONYMOUS,
}

CREDENTIAL_MODES: dict[str, CredentialMode] = {
    "localsystem": CredentialMode.LOCAL_SYSTEM, "localsystemaccount": CredentialMode.LOCAL_SYSTEM,
    "userspecified": CredentialMode.USER_SPECIFIED, "user": CredentialMode.USER_SPECIFIED,
    "otherspecified": CredentialMode.OTHER_SPECIFIED, "other": CredentialMode.OTHER_SPECIFIED,
}

USER_TYPES: dict[str, UserType] = {
    "administrator": UserType.ADMINISTRATOR, "admin": UserType.ADMINISTRATOR,
    "user": UserType.USER,
}

ACCESS_TYPES: dict[str, AccessType] = {
    "delegate": AccessType.DELEGATE, "delegateaccess": AccessType.DELEGATE,
    "sendonbehalf": AccessType.DELEGATE,
    "sendas": AccessType.SEND_AS, "sendaspermission": AccessType.SEND_AS,
}

CRM_AUTH_MODES: dict[str, CrmAuthMode] = {
    "localsystem": CrmAuthMode.LOCAL_SYSTEM, "localsystemaccount": CrmAuthMode.LOCAL_SYSTEM,
    "windowsauthentication": CrmAuthMode.WINDOWS, "windows": CrmAuthMode.WINDOWS,
    "integrated": CrmAuthMode.WINDOWS, "ntlm": CrmAuthMode.WINDOWS, "kerberos": CrmAuthMode.WINDOWS,
    "passport": CrmAuthMode.PASSPORT, "liveid": CrmAuthMode.PASSPORT,
    "claims": CrmAuthMode.CLAIMS, "claimsbased": CrmAuthMode.CLAIMS, "ifd": CrmAuthMode.CLAIMS,
}

PROVIDER_CLASSES: dict[str, tuple[Direction, ServerType | None]] = {
    "exchangepollingmailboxprovider": (Direction.INCOMING, None),
    "exchangeonlinepollingmailboxprovider": (Direction.INCOMING, ServerType.EXCHANGE_ONLINE),
    "pop3pollingmailboxprovider": (Direction.INCOMING, ServerType.POP3),
    "smtppollingsendemailprovider": (Direction.OUTGOING, ServerType.SMTP),
    "exchangepollingsendemailprovider": (Direction.OUTGOING, None),
    "exchangeonlinepollingsendemailprovider": (Direction.OUTGOING, ServerType.EXCHANGE_ONLINE),
}
"""SDK provider classes (reference §2.7), keyed by the last segment of the class name, lower case."""


def provider_class_key(text: str) -> str:
    """Return the lookup key of a provider class: its last dotted segment, lower case, no assembly."""
    return text.split(",")[0].strip().rsplit(".", 1)[-1].lower()

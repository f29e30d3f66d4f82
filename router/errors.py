"""The one error tree of email-router.

Every exception the router raises on purpose is a ``RouterError``. Foreign exceptions (exchangelib,
requests, SQLAlchemy, cryptography, lxml) are wrapped at the edge that meets them with
``raise OurError(...) from exc``. Each error carries what a caller needs to decide: whether it is
``transient`` (retry later, honouring ``back_off``), and a ``hint`` telling the admin what to do.
Outcomes (skip, defer, reject, quarantine) are values, never exceptions.

::

    RouterError                      exit 1   base; message + hint (+ path / mailbox / item_id)
    ├── UsageError                   exit 2   a command was called wrongly
    ├── ConfigError                  exit 3   profiles, deployments, settings
    │   ├── ProfileValidationError            every problem found, each with file and key path
    │   └── PublishedConfigError              a published configuration is missing, corrupt or edited
    ├── VaultError                   exit 4   credentials at rest
    │   ├── KeyFileError                      key missing, unreadable, or readable by others
    │   ├── WrongKeyError                     the key does not open the vault
    │   ├── VaultCorruptError                 the vault file is tampered or truncated
    │   └── CredentialNotFoundError           a profile names a credential that is not set
    ├── StateStoreError              exit 5   the router's own state database
    │   └── ClaimLostError                    another worker took over a claim this worker held
    ├── TransportError               exit 6   talking to Exchange (EWS or Microsoft Graph)
    │   ├── TransientTransportError           retry with back-off (ServerBusy, timeouts, 5xx)
    │   └── PermanentTransportError           stop the mailbox and alert (unless ``stops_mailbox`` is False)
    │       ├── AuthenticationError           bad credentials (HTTP 401)
    │       ├── AccessDeniedError             valid account without rights on the mailbox
    │       ├── MailboxNotFoundError          no such mailbox
    │       ├── SendAsDeniedError             ErrorSendAsDenied at submission
    │       ├── MessageRejectedError          Exchange refused this one message; the mailbox goes on
    │       └── ItemNotFoundError             the item is gone from the server; the mailbox goes on
    ├── CrmError                     exit 7   talking to the CRM
    │   ├── CrmTransientError                 unreachable, 429 / 503, deadlocks
    │   │   └── CrmConcurrencyError           the record changed since it was read (412): re-read
    │   └── CrmPermanentError                 caller rejected, bad request, payload too large
    │       └── CrmRecordNotFoundError        the record is gone (404): skip it
    ├── MessageError                 exit 8   one message could not be parsed or rendered
    ├── MailboxStoppedError          exit 1   a mailbox direction stopped earlier and is held until resumed
    ├── LegacyImportError            exit 9   a legacy E-mail Router file could not be read
    ├── SimulatorError               exit 10  the EWS / CRM simulator was misused
    └── HarnessError                 exit 11  the demo, benchmark or soak did not see what it expected

``EXIT_CODES`` maps the classes to the documented process exit codes; ``email-router --help`` prints
the table.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

MAX_SERVER_TEXT = 4096
"""Most characters of a server's text an error keeps: enough to diagnose, never a 200 MB log line."""


def bounded(text: str, limit: int = MAX_SERVER_TEXT) -> str:
    """``text`` itself when short; else its first ``limit`` characters, its length and a SHA-256 digest.

    What a server says ends up in error messages, logs and both databases (the mailbox's last error,
    the CRM's ``lastsyncerror``); a hostile or broken server must not decide how much of it is kept.
    The digest still tells two long texts apart.
    """
    if len(text) <= limit:
        return text
    digest = hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()[:16]
    return f"{text[:limit]}... [{len(text) - limit} more characters cut; {len(text)} in all, sha256 {digest}]"


class RouterError(Exception):
    """Base of every error the router raises on purpose.

    ``message`` says what went wrong, ``hint`` what the admin should do about it. ``path``,
    ``mailbox`` and ``item_id`` name the file, mailbox or message concerned when there is one.
    ``back_off`` (seconds to wait before retrying) and ``code`` (the server's error code, e.g. an EWS
    response code or an OData error code) are set by the transport and CRM errors that have them.
    """

    exit_code = 1
    transient = False
    max_message_chars: int | None = None
    """Messages longer than this are cut by ``bounded`` (errors that quote what a server said)."""

    def __init__(
        self,
        message: str,
        *,
        hint: str = "",
        path: str | None = None,
        mailbox: str | None = None,
        item_id: str | None = None,
        back_off: float | None = None,
        code: str | None = None,
    ) -> None:
        if self.max_message_chars is not None:
            message = bounded(message, self.max_message_chars)
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.path = path
        self.mailbox = mailbox
        self.item_id = item_id
        self.back_off = back_off
        self.code = code

    def __str__(self) -> str:
        where = [
            f"{k}={v}"
            for k, v in (("file", self.path), ("mailbox", self.mailbox), ("item", self.item_id))
            if v
        ]
        text = self.message + (f" [{', '.join(where)}]" if where else "")
        return f"{text}\n  hint: {self.hint}" if self.hint else text


class UsageError(RouterError):
    """A command was called with arguments that cannot work."""

    exit_code = 2


class ConfigError(RouterError):
    """Profiles, deployments, bindings or settings are wrong."""

    exit_code = 3


@dataclass(frozen=True)
class Problem:
    """One validation problem: the file, the dotted key path inside it, and what is wrong."""

    file: str
    key: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.key or '<file>'}: {self.message}"


class ProfileValidationError(ConfigError):
    """Validation found problems; all of them are carried, not just the first."""

    def __init__(self, problems: Sequence[Problem], *, hint: str = "") -> None:
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(
            f"{len(self.problems)} problem(s) in the profiles:\n{lines}",
            hint=hint or "fix each key named above, then run `email-router profiles validate` again",
        )


class PublishedConfigError(ConfigError):
    """A published configuration is missing, corrupt, hand-edited or of an unknown version."""


class VaultError(RouterError):
    """Credentials at rest could not be read or written."""

    exit_code = 4


class KeyFileError(VaultError):
    """The key file is missing, unreadable, malformed or readable by other users."""


class WrongKeyError(VaultError):
    """The key does not decrypt the vault (a wrong or rotated key)."""


class VaultCorruptError(VaultError):
    """The vault file was tampered with or truncated."""


class CredentialNotFoundError(VaultError):
    """A profile names a credential that has not been set."""


class StateStoreError(RouterError):
    """The router's own state database failed."""

    exit_code = 5


class ClaimLostError(StateStoreError):
    """A claim this worker held expired and another worker took it over; stop working on that item."""


class TransportError(RouterError):
    """Talking to Exchange (over EWS or Microsoft Graph) failed."""

    exit_code = 6
    max_message_chars = MAX_SERVER_TEXT


class TransientTransportError(TransportError):
    """Worth retrying after ``back_off`` seconds: ErrorServerBusy, timeouts, 5xx, dropped connections."""

    transient = True


class PermanentTransportError(TransportError):
    """Retrying will not help until an admin acts.

    When ``stops_mailbox`` is True (the default) the problem is the mailbox's: it is stopped and an
    alert raised. Subclasses that concern one item only set it to False: that item fails or is
    quarantined and the mailbox goes on.
    """

    stops_mailbox = True


class AuthenticationError(PermanentTransportError):
    """The server refused the credentials (HTTP 401)."""


class AccessDeniedError(PermanentTransportError):
    """The account is valid but has no rights on the target mailbox."""


class MailboxNotFoundError(PermanentTransportError):
    """The mailbox does not exist on the server."""


class SendAsDeniedError(PermanentTransportError):
    """Exchange refused the submission: the account holds neither Send As nor Send On Behalf."""


class MessageRejectedError(PermanentTransportError):
    """Exchange refused this one message (invalid recipients, too large, unreadable MIME, a virus)."""

    stops_mailbox = False


class ItemNotFoundError(PermanentTransportError):
    """The item no longer exists on the server (deleted or moved by someone else)."""

    stops_mailbox = False


class CrmError(RouterError):
    """Talking to the CRM failed."""

    exit_code = 7
    max_message_chars = MAX_SERVER_TEXT


class CrmTransientError(CrmError):
    """The CRM is unreachable or busy (429, 503, timeouts); retry after ``back_off``."""

    transient = True


class CrmConcurrencyError(CrmTransientError):
    """The record changed since it was read (HTTP 412 on If-Match); re-read it and try again."""


class CrmPermanentError(CrmError):
    """The CRM rejected the caller or the request; retrying will not help."""


class CrmRecordNotFoundError(CrmPermanentError):
    """The record the request names does not exist (any more); the caller may skip it."""


class MessageError(RouterError):
    """One message could not be parsed, screened or rendered."""

    exit_code = 8


class MailboxStoppedError(RouterError):
    """A mailbox direction stopped after a permanent failure and stays stopped until it is resumed.

    The service raises it instead of running a lane that an earlier run (before a restart) stopped,
    until a newer published version or `email-router mailbox resume` releases it.
    """


class LegacyImportError(RouterError):
    """A legacy E-mail Router configuration or state file could not be read."""

    exit_code = 9


class SimulatorError(RouterError):
    """The EWS or CRM simulator was started or driven wrongly."""

    exit_code = 10


class HarnessError(RouterError):
    """The demo, benchmark or soak harness failed: a process died, a deadline passed, or a check failed."""

    exit_code = 11


EXIT_CODES: dict[int, str] = {
    0: "success",
    1: "unexpected error (a bug: please report it with the log)",
    2: "usage error: wrong arguments",
    3: "configuration error: profiles, deployments or a published configuration",
    4: "vault error: key file, wrong key, tampered vault, missing credential",
    5: "state store error",
    6: "Exchange / EWS error",
    7: "CRM error",
    8: "message error",
    9: "legacy import error",
    10: "simulator error",
    11: "demo / benchmark / soak failed (see its report)",
}

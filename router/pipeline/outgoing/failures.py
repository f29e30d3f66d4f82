"""What a failed send means: for the email (retry or Failed), for its mailbox (go on or stop), who to tell.

``classify(error)`` turns the router error a send step raised into a ``Failure`` value. The rules
follow server-side synchronisation's split of email-level and mailbox-level errors:

* **The email's own fault** (it cannot be rendered; Exchange refused its recipients, size or content):
  the email goes to Failed at once with the reason, the mailbox goes on.
* **The mailbox cannot send as the user** (ErrorSendAsDenied), **does not exist**, or **is over its
  quota**: the email goes to Failed at once with the reason, an alert is raised, and the lane stops
  until an admin acts, because every other email of the mailbox would fail the same way.
* **The mailbox cannot be used at all** (credentials, rights on the mailbox, TLS, endpoint): not the
  email's fault, so it goes back to Pending Send with the reason; alert and stop as above.
* **Transient** (ErrorServerBusy, timeouts, 5xx, dropped connections): the attempt is counted and
  the email goes back to Pending Send (Failed after MaximumDeliveryAttempts). When the error carries a
  back-off (Exchange's BackOffMilliseconds or Retry-After, or exchangelib's own wait after a 5xx or a
  timeout) every lane of that server waits that long (``throttles_server``: the lane raises the error
  and the scheduler holds the server back); otherwise only the mailbox holds off for ``RETRY_SECONDS``.
"""

from __future__ import annotations

from dataclasses import dataclass

from router.errors import (
    MailboxNotFoundError,
    MessageError,
    MessageRejectedError,
    PermanentTransportError,
    RouterError,
    SendAsDeniedError,
    TransientTransportError,
)

RETRY_SECONDS = 60.0
"""How long a mailbox holds off after a transient failure that came without a back-off."""

ALERT_REJECTED = "outgoing-email-rejected"
ALERT_SEND_AS = "outgoing-send-as-denied"
ALERT_NO_MAILBOX = "outgoing-mailbox-not-found"
ALERT_QUOTA = "outgoing-mailbox-quota"
ALERT_UNUSABLE = "outgoing-mailbox-unusable"
ALERT_NOT_IN_CRM = "outgoing-mailbox-not-in-crm"
MAILBOX_ALERTS = (ALERT_SEND_AS, ALERT_NO_MAILBOX, ALERT_QUOTA, ALERT_UNUSABLE, ALERT_NOT_IN_CRM)
"""Alerts about the mailbox as a whole; a later successful send resolves them."""

QUOTA_CODES = frozenset({"ErrorQuotaExceeded"})
"""Codes of a full mailbox (ErrorSubmissionQuotaExceeded, the sending limit, is transient)."""


@dataclass(frozen=True)
class Failure:
    """How one failed send is treated."""

    reason: str
    """What went wrong and what to do, as the CRM shows it on the email."""
    permanent: bool
    """The email goes to Failed at once (else it is retried up to MaximumDeliveryAttempts)."""
    stops_lane: bool
    """The mailbox cannot send any email until an admin acts."""
    alert: str | None
    """The alert kind to raise for the mailbox, if any."""
    back_off: float | None
    """Seconds the mailbox holds off before its next send (transient failures only)."""
    throttles_server: bool
    """The error carried ``back_off``: every lane of the server must wait, not this mailbox only."""
    label: str
    """A short kind for metrics and logs (the EWS code where there is one)."""

    @property
    def transient(self) -> bool:
        """True when the email is retried and the mailbox goes on after ``back_off``."""
        return not self.permanent and not self.stops_lane


def classify(error: RouterError) -> Failure:
    """Return how the send failure ``error`` is treated (see the module docstring)."""
    reason = describe(error)
    label = getattr(error, "code", None) or type(error).__name__
    if isinstance(error, TransientTransportError):
        told = error.back_off is not None and error.back_off > 0
        return Failure(reason, False, False, None, error.back_off if told else RETRY_SECONDS, told, label)
    if isinstance(error, MessageError | MessageRejectedError):
        return Failure(reason, True, False, ALERT_REJECTED, None, False, label)
    if isinstance(error, SendAsDeniedError):
        return Failure(reason, True, True, ALERT_SEND_AS, None, False, label)
    if isinstance(error, MailboxNotFoundError):
        return Failure(reason, True, True, ALERT_NO_MAILBOX, None, False, label)
    if isinstance(error, PermanentTransportError) and label in QUOTA_CODES:
        return Failure(reason, True, True, ALERT_QUOTA, None, False, label)
    if isinstance(error, PermanentTransportError) and error.stops_mailbox:
        return Failure(reason, False, True, ALERT_UNUSABLE, None, False, label)
    return Failure(reason, False, False, None, RETRY_SECONDS, False, label)


def describe(error: RouterError) -> str:
    """The error's message and the admin's hint, as one text fit for the email's note."""
    hint = f" What to do: {error.hint}" if error.hint else ""
    return f"{error.message}.{hint}" if not error.message.endswith(".") else f"{error.message}{hint}"

"""How each failure is treated: the email's fate, the mailbox's, the alert, the hold-off."""

from __future__ import annotations

import pytest

from router.errors import (
    AccessDeniedError,
    AuthenticationError,
    ItemNotFoundError,
    MailboxNotFoundError,
    MessageError,
    MessageRejectedError,
    PermanentTransportError,
    RouterError,
    SendAsDeniedError,
    TransientTransportError,
)
from router.pipeline.outgoing.failures import (
    ALERT_NO_MAILBOX,
    ALERT_QUOTA,
    ALERT_REJECTED,
    ALERT_SEND_AS,
    ALERT_UNUSABLE,
    RETRY_SECONDS,
    classify,
)


@pytest.mark.parametrize(("error", "permanent", "stops", "alert", "back_off"), [
    (TransientTransportError("ErrorServerBusy: busy", code="ErrorServerBusy", back_off=297.749),
     False, False, None, 297.749),
    (TransientTransportError("Timeout: read timed out", code="Timeout"), False, False, None, RETRY_SECONDS),
    (MessageError("email e-1: To address is not usable"), True, False, ALERT_REJECTED, None),
    (MessageRejectedError("ErrorInvalidRecipients: none", code="ErrorInvalidRecipients"),
     True, False, ALERT_REJECTED, None),
    (SendAsDeniedError("ErrorSendAsDenied: no", code="ErrorSendAsDenied"), True, True, ALERT_SEND_AS, None),
    (MailboxNotFoundError("ErrorNonExistentMailbox: no", code="ErrorNonExistentMailbox"),
     True, True, ALERT_NO_MAILBOX, None),
    (PermanentTransportError("ErrorQuotaExceeded: full", code="ErrorQuotaExceeded"),
     True, True, ALERT_QUOTA, None),
    (AuthenticationError("UnauthorizedError: 401", code="UnauthorizedError"),
     False, True, ALERT_UNUSABLE, None),
    (AccessDeniedError("ErrorAccessDenied: no", code="ErrorAccessDenied"), False, True, ALERT_UNUSABLE, None),
    (ItemNotFoundError("ErrorItemNotFound: gone", code="ErrorItemNotFound"),
     False, False, None, RETRY_SECONDS),
])
def test_each_kind_of_failure(error: RouterError, permanent: bool, stops: bool, alert: str | None,
                              back_off: float | None) -> None:
    failure = classify(error)
    assert (failure.permanent, failure.stops_lane, failure.alert, failure.back_off) == (
        permanent, stops, alert, back_off)
    assert failure.transient is (not permanent and not stops)
    assert failure.throttles_server is (failure.transient and back_off != RETRY_SECONDS)


def test_the_reason_says_what_happened_and_what_to_do() -> None:
    failure = classify(SendAsDeniedError("ErrorSendAsDenied: the account may not send as alice",
                                         code="ErrorSendAsDenied", hint="grant Send As"))
    assert failure.reason == "ErrorSendAsDenied: the account may not send as alice. What to do: grant Send As"
    assert failure.label == "ErrorSendAsDenied"

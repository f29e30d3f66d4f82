"""What a failed send attempt does to an outgoing e-mail, shared by both gateways.

The legacy router counted ``deliveryattempts`` and showed the user a notification; after
``MaximumDeliveryAttempts`` (or a permanent failure) the e-mail went to Failed and had to be resubmitted.
Both gateways write the same status and the same note (an annotation on the e-mail carrying the reason
and the legacy notification text), so a CRM user sees why the mail did not go out.
"""

from __future__ import annotations

from router.crm.codes import EmailStatus

NOTE_SUBJECT_PREFIX = "E-mail Router:"


def status_after_failure(attempts: int, *, permanent: bool, max_attempts: int) -> EmailStatus:
    """Return Failed when the failure is permanent or ``attempts`` reached the maximum, else Pending Send."""
    return EmailStatus.FAILED if permanent or attempts >= max_attempts else EmailStatus.PENDING_SEND


def failure_note(attempts: int, status: EmailStatus, reason: str) -> tuple[str, str]:
    """Return the subject and text of the note recorded on the e-mail for a failed attempt."""
    if status is EmailStatus.FAILED:
        notice = "The message delivery failed. It must be resubmitted for any further processing."
    else:
        notice = (
            f"This message has not yet been submitted for delivery. "
            f"{attempts} attempts have been made so far."
        )
    subject = f"{NOTE_SUBJECT_PREFIX} delivery attempt {attempts} failed"
    return subject, f"{reason.strip() or 'no reason given'}\n\n{notice}"

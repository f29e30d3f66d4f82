"""The outcome of screening one message: deliver it to the CRM, or skip it with a reason.

A skip is a recorded decision, not an error: the decision trail stores ``code`` and ``text`` so that
``email-router trace`` can answer "why was this mail ignored?".
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Verdict(StrEnum):
    """What screening decided."""

    DELIVER = "deliver"
    SKIP = "skip"


class SkipReason(StrEnum):
    """Why a message was not offered to the CRM. The values are stable codes stored in the ledger."""

    ITEM_CLASS = "item-class"
    """Not an IPM.Note (or, when allowed, out-of-office) item: a meeting request, a receipt, a task."""
    OWN_LOOP = "own-loop"
    """Carries this router's loop header: mail the router itself sent came back."""
    DELIVERY_REPORT = "delivery-report"
    """A delivery status notification (bounce or delay): multipart/report; report-type=delivery-status."""
    DISPOSITION_NOTIFICATION = "disposition-notification"
    """A read or deletion receipt: multipart/report; report-type=disposition-notification."""
    OTHER_REPORT = "report"
    """Another machine report (abuse feedback, TLS report): multipart/report of another type."""
    NULL_RETURN_PATH = "null-return-path"
    """``Return-Path: <>``: sent with a null reverse path, which RFC 5321 reserves for notifications."""
    AUTO_SUBMITTED = "auto-submitted"
    """``Auto-Submitted`` with any value but ``no`` (RFC 3834 §5)."""
    AUTOREPLY_HEADER = "autoreply-header"
    """One of the non-standard auto-responder headers (X-Autoreply, X-Autorespond, X-AutoReply-From…)."""
    AUTO_RESPONSE_SUPPRESS = "auto-response-suppress"
    """``X-Auto-Response-Suppress`` asking for no automatic replies: the sender is an automaton."""
    PRECEDENCE = "precedence"
    """``Precedence: auto_reply``; ``bulk``, ``junk`` or ``list`` only with the setting
    ``incoming.precedence = "screen"``."""
    RATE_LIMITED = "rate-limited"
    """The sender exceeded the per-mailbox rate: the breaker tripped."""


ACCEPTED = "accepted"
"""The decision code recorded for a message that passed screening."""


@dataclass(frozen=True)
class ScreenDecision:
    """Deliver, or skip with a ``reason`` and a ``text`` an admin can read."""

    verdict: Verdict
    reason: SkipReason | None
    text: str

    @classmethod
    def deliver(cls, text: str = "passed screening") -> ScreenDecision:
        """Return a decision to offer the message to the CRM."""
        return cls(Verdict.DELIVER, None, text)

    @classmethod
    def skip(cls, reason: SkipReason, text: str) -> ScreenDecision:
        """Return a decision not to offer the message to the CRM, with its reason."""
        return cls(Verdict.SKIP, reason, text)

    @property
    def delivers(self) -> bool:
        """Return whether the message goes on to the CRM."""
        return self.verdict is Verdict.DELIVER

    @property
    def code(self) -> str:
        """Return the code for the decision trail: ``accepted`` or the skip reason's value."""
        return self.reason.value if self.reason is not None else ACCEPTED

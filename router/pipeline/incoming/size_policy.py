"""Size policy: what to do with a message too large for the CRM.

The CRM refuses attachments over its upload limit (Dataverse's ``maxuploadfilesize``, 5 MB by
default) and large activities are slow for everybody. ``apply_size_policy`` decides, without decoding
any attachment, between:

* **deliver as is** — the raw message is within ``max_message_bytes`` and no attachment is over
  ``max_attachment_bytes``;
* **strip** (``SizeMode.STRIP``) — attachments over ``max_attachment_bytes`` are dropped; then, while
  the message is still over ``max_message_bytes``, the largest remaining attachment is dropped. The
  message is delivered with the rest and ``notify`` set, so the activity can say what was removed.
  If dropping every attachment is not enough (the bodies alone are too big), the message is
  quarantined: stripping cannot fix it;
* **quarantine** (``SizeMode.QUARANTINE``) — any violation quarantines the message, untouched.

Sizes: the message's raw byte length; an attachment's decoded ``size`` against the per-attachment
limit (what the CRM stores), and its ``encoded_size`` for what stripping it saves from the message.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from router.errors import ConfigError
from router.pipeline.incoming.attachments import Attachment
from router.pipeline.incoming.parse import ParsedMessage


class SizeMode(StrEnum):
    """What to do with a message over the limits."""

    STRIP = "strip"
    QUARANTINE = "quarantine"


class SizeAction(StrEnum):
    """The size policy's decision."""

    DELIVER = "deliver"
    QUARANTINE = "quarantine"


class SizeReason(StrEnum):
    """Why the size policy decided as it did; stable codes for the decision trail."""

    WITHIN_LIMITS = "within-limits"
    ATTACHMENTS_STRIPPED = "attachments-stripped"
    MESSAGE_TOO_LARGE = "message-too-large"
    ATTACHMENT_TOO_LARGE = "attachment-too-large"
    BODY_TOO_LARGE = "body-too-large"


@dataclass(frozen=True)
class SizePolicy:
    """The limits (bytes) and the mode; ``max_attachment_bytes=None`` means no per-attachment limit."""

    max_message_bytes: int
    max_attachment_bytes: int | None = None
    mode: SizeMode = SizeMode.STRIP

    def __post_init__(self) -> None:
        if self.max_message_bytes < 1 or (self.max_attachment_bytes is not None
                                          and self.max_attachment_bytes < 1):
            raise ConfigError(
                f"invalid size policy: max_message_bytes={self.max_message_bytes}, "
                f"max_attachment_bytes={self.max_attachment_bytes}",
                hint="set both limits to a positive number of bytes (or leave the attachment limit unset)",
            )


@dataclass(frozen=True)
class SizeDecision:
    """Deliver with ``kept`` attachments (``notify`` when some were ``stripped``), or quarantine.

    A quarantine decision keeps nothing: the message is set aside whole, to be retried or released.
    """

    action: SizeAction
    reason: SizeReason
    text: str
    kept: tuple[Attachment, ...] = ()
    stripped: tuple[Attachment, ...] = ()

    @property
    def notify(self) -> bool:
        """Return whether the activity must say that attachments were removed."""
        return self.action is SizeAction.DELIVER and bool(self.stripped)


def apply_size_policy(parsed: ParsedMessage, policy: SizePolicy) -> SizeDecision:
    """Decide delivery, stripping or quarantine for ``parsed`` under ``policy``; never decodes."""
    attachments = parsed.attachments
    oversized = tuple(a for a in attachments if _over_attachment_limit(a, policy))
    if parsed.size <= policy.max_message_bytes and not oversized:
        return SizeDecision(SizeAction.DELIVER, SizeReason.WITHIN_LIMITS,
                            f"{parsed.size} bytes, within the limits", kept=attachments)
    if policy.mode is SizeMode.QUARANTINE:
        return _quarantine(parsed, policy, oversized)
    return _strip(parsed, policy, oversized)


def _over_attachment_limit(attachment: Attachment, policy: SizePolicy) -> bool:
    return policy.max_attachment_bytes is not None and attachment.size > policy.max_attachment_bytes


def _quarantine(parsed: ParsedMessage, policy: SizePolicy, oversized: tuple[Attachment, ...]) -> SizeDecision:
    """Quarantine, naming the first limit exceeded."""
    if oversized:
        biggest = max(oversized, key=lambda a: a.size)
        return SizeDecision(SizeAction.QUARANTINE, SizeReason.ATTACHMENT_TOO_LARGE,
                            f"attachment {biggest.filename!r} is {biggest.size} bytes, over the "
                            f"{policy.max_attachment_bytes}-byte attachment limit")
    return SizeDecision(SizeAction.QUARANTINE, SizeReason.MESSAGE_TOO_LARGE,
                        f"the message is {parsed.size} bytes, over the {policy.max_message_bytes}-byte limit")


def _strip(parsed: ParsedMessage, policy: SizePolicy, oversized: tuple[Attachment, ...]) -> SizeDecision:
    """Drop oversized attachments, then the largest ones until the message fits."""
    stripped = list(oversized)
    kept = _without(parsed.attachments, stripped)
    remaining = parsed.size - sum(a.encoded_size for a in stripped)
    for attachment in sorted(kept, key=lambda a: a.encoded_size, reverse=True):
        if remaining <= policy.max_message_bytes:
            break
        stripped.append(attachment)
        remaining -= attachment.encoded_size
    if remaining > policy.max_message_bytes:
        return SizeDecision(SizeAction.QUARANTINE, SizeReason.BODY_TOO_LARGE,
                            f"the message is {parsed.size} bytes and still about {remaining} without any "
                            f"attachment, over the {policy.max_message_bytes}-byte limit")
    kept = _without(parsed.attachments, stripped)
    names = ", ".join(f"{a.filename} ({a.size} bytes)" for a in stripped)
    return SizeDecision(SizeAction.DELIVER, SizeReason.ATTACHMENTS_STRIPPED,
                        f"removed {len(stripped)} attachment(s) over the size limits: {names}",
                        kept=tuple(kept), stripped=tuple(stripped))


def _without(attachments: tuple[Attachment, ...], removed: list[Attachment]) -> list[Attachment]:
    """Return ``attachments`` minus the ``removed`` objects, by identity, in message order."""
    gone = {id(a) for a in removed}
    return [a for a in attachments if id(a) not in gone]

"""Forward mailbox mode: take the original message out of the wrapper an inbox rule forwarded.

In forward mailbox mode (``legacy-email-router.md`` §1.6, §3.6) each CRM user's Exchange inbox rule
forwards every message *as an attachment* to one forward mailbox. The wrapper is a new message from
the user; the original is its ``message/rfc822`` attachment. ``unwrap_forward`` returns the original's
bytes (and its parse) and who forwarded it, or a clear decision when the wrapper is not one:

* ``no-forwarded-message`` — no attached message (someone wrote to the forward mailbox directly, or
  forwarded inline instead of as an attachment);
* ``several-forwarded-messages`` — more than one attached message: a person forwarded several by
  hand; which one to deliver, and for whom, is not ours to guess;
* ``unreadable-forwarded-message`` — the attached message is empty or not a message;
* ``no-forwarding-user`` — nobody could be identified as the forwarder.

Who forwarded it: the CRM user is whoever owns the rule that fired, so the candidates are, in order,
the wrapper's ``From`` (the mailbox owner, for a server-side rule), its ``Sender``, and each address in
``X-MS-Exchange-Inbox-Rules-Loop`` (Exchange stamps the mailbox whose inbox rule processed the message;
Exchange Online may stamp a count instead, which is ignored). The original's own To and Cc come last,
as a fallback for wrappers whose From was rewritten. ``resolve_forwarder`` picks the first candidate
the caller recognises as a forward-mailbox CRM user. ``rule_generated`` is true when Exchange marked
the wrapper as produced by a mailbox rule (``X-MS-Exchange-Generated-Message-Source: Mailbox Rules
Agent`` or an Inbox-Rules-Loop header); a hand-forwarded wrapper is still unwrapped (POP3 and Online
users set their forwarding up by hand).

The original is regenerated from the parsed wrapper: byte-identical for well-formed mail, and stable
(the same wrapper always gives the same bytes, hence the same message key).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from router.errors import MessageError
from router.pipeline.incoming.addresses import Mailbox, is_valid_address, parse_address_headers
from router.pipeline.incoming.attachments import Attachment
from router.pipeline.incoming.parse import ParsedMessage, parse_message

FORWARDED_TYPES = frozenset({"message/rfc822", "message/global"})
INBOX_RULES_LOOP = "X-MS-Exchange-Inbox-Rules-Loop"
GENERATED_SOURCE = "X-MS-Exchange-Generated-Message-Source"
RULES_AGENT = "mailbox rules agent"


class UnwrapOutcome(StrEnum):
    """What unwrapping found; every value but ``unwrapped`` is a decision to quarantine or skip."""

    UNWRAPPED = "unwrapped"
    NOT_FORWARDED = "no-forwarded-message"
    SEVERAL = "several-forwarded-messages"
    UNREADABLE = "unreadable-forwarded-message"
    NO_FORWARDER = "no-forwarding-user"


class CandidateSource(StrEnum):
    """Where a forwarding-user candidate was read."""

    WRAPPER_FROM = "wrapper-from"
    WRAPPER_SENDER = "wrapper-sender"
    INBOX_RULES_LOOP = "inbox-rules-loop"
    ORIGINAL_RECIPIENT = "original-recipient"


@dataclass(frozen=True)
class ForwardCandidate:
    """One address that may be the CRM user the message was forwarded for (``address`` lower-cased)."""

    address: str
    name: str
    source: CandidateSource


@dataclass(frozen=True)
class UnwrapResult:
    """The unwrapped original and its forwarding-user candidates, or the reason there is none."""

    outcome: UnwrapOutcome
    text: str
    original_bytes: bytes | None = None
    original: ParsedMessage | None = None
    candidates: tuple[ForwardCandidate, ...] = ()
    rule_generated: bool = False

    @property
    def unwrapped(self) -> bool:
        """Return whether an original message was extracted."""
        return self.outcome is UnwrapOutcome.UNWRAPPED


def unwrap_forward(wrapper: ParsedMessage) -> UnwrapResult:
    """Extract the forwarded original from a forward-mailbox wrapper; never raises."""
    forwarded = [a for a in wrapper.attachments if a.content_type in FORWARDED_TYPES]
    rule_generated = _rule_generated(wrapper)
    if not forwarded:
        return UnwrapResult(UnwrapOutcome.NOT_FORWARDED,
                            "the message in the forward mailbox has no attached message to unwrap "
                            "(it was sent there directly, or forwarded inline)",
                            rule_generated=rule_generated)
    if len(forwarded) > 1:
        return UnwrapResult(UnwrapOutcome.SEVERAL,
                            f"the message in the forward mailbox carries {len(forwarded)} attached "
                            "messages; only a wrapper with exactly one can be attributed",
                            rule_generated=rule_generated)
    try:
        raw, original = _open(forwarded[0])
    except MessageError as exc:
        return UnwrapResult(UnwrapOutcome.UNREADABLE, f"the attached message cannot be read: {exc.message}",
                            rule_generated=rule_generated)
    candidates = forward_candidates(wrapper, original)
    if not candidates:
        return UnwrapResult(UnwrapOutcome.NO_FORWARDER,
                            "neither the wrapper nor the original names a forwarding user",
                            raw, original, (), rule_generated)
    return UnwrapResult(UnwrapOutcome.UNWRAPPED,
                        f"unwrapped {original.key} forwarded by {candidates[0].address}",
                        raw, original, candidates, rule_generated)


def _open(attachment: Attachment) -> tuple[bytes, ParsedMessage]:
    """Return the attached message's bytes and parse; ``MessageError`` when it is not a message."""
    raw = attachment.content()
    return raw, parse_message(raw)


def forward_candidates(wrapper: ParsedMessage, original: ParsedMessage) -> tuple[ForwardCandidate, ...]:
    """List who may have forwarded the message, most authoritative first, without duplicates."""
    found: list[ForwardCandidate] = []
    loop_boxes = parse_address_headers(wrapper.headers.get_all(INBOX_RULES_LOOP))
    sources: list[tuple[CandidateSource, tuple[Mailbox, ...]]] = [
        (CandidateSource.WRAPPER_FROM, wrapper.from_),
        (CandidateSource.WRAPPER_SENDER, wrapper.sender),
        (CandidateSource.INBOX_RULES_LOOP, loop_boxes),
        (CandidateSource.ORIGINAL_RECIPIENT, original.to + original.cc),
    ]
    seen: set[str] = set()
    for source, boxes in sources:
        for box in boxes:
            if box.valid and is_valid_address(box.address) and box.normalized not in seen:
                seen.add(box.normalized)
                found.append(ForwardCandidate(box.normalized, box.name, source))
    return tuple(found)


def resolve_forwarder(result: UnwrapResult,
                      is_forward_user: Callable[[str], bool]) -> ForwardCandidate | None:
    """Return the first candidate ``is_forward_user`` accepts (given a lower-cased address), or ``None``."""
    return next((c for c in result.candidates if is_forward_user(c.address)), None)


def _rule_generated(wrapper: ParsedMessage) -> bool:
    """Return whether Exchange marked the wrapper as produced by a mailbox (inbox) rule."""
    if INBOX_RULES_LOOP in wrapper.headers:
        return True
    return any(RULES_AGENT in value.lower() for value in wrapper.headers.get_all(GENERATED_SOURCE))

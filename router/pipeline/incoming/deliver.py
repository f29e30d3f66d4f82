"""Handing a message to the CRM: CheckIncomingEmail, then DeliverIncomingEmail.

``to_incoming_email`` maps a ``ParsedMessage`` to the gateway's ``IncomingEmail``: bare addresses
for From, To, Cc and Bcc (the CRM resolves them to users, contacts and accounts, so all are passed),
the description (every inline text part in order, plain text escaped into HTML: ``body_parts``), the
attachments the size policy kept (less the inline text parts the description shows), and the
mailbox the message was read from as ``receiving_address``. A message without a Message-ID goes to
the CRM under its derived key, the same in every mailbox, so the CRM's duplicate check still works.

``offer`` asks the CRM about one message, ``BatchOffer`` about a batch in one call. A Duplicate
answer still calls DeliverIncomingEmail: it is idempotent, it
returns the activity that already exists (delivered before a crash, or through another recipient's
mailbox) and adds this recipient to it. Errors the CRM raises for the message itself are told apart
from errors about the router's access to the CRM by asking WhoAmI once: if the caller is still
accepted, the message was refused (``CrmRefusal``); otherwise the error is raised and stops the lane.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from router.crm.codes import CorrelationMethod, ReasonCode
from router.crm.codes import Importance as CrmImportance
from router.crm.gateway import Attachment as CrmAttachment
from router.crm.gateway import CrmGateway, DeliverResult, IncomingEmail
from router.errors import CrmError, CrmPermanentError, CrmTransientError, MessageError
from router.pipeline.incoming.addresses import Mailbox
from router.pipeline.incoming.attachments import Attachment
from router.pipeline.incoming.body_parts import description_html
from router.pipeline.incoming.content_changes import fit_subject
from router.pipeline.incoming.defects import short_detail
from router.pipeline.incoming.parse import Importance, ParsedMessage
from router.runtime.lane_lease import ensure_lease

_IMPORTANCE = {Importance.LOW: CrmImportance.LOW, Importance.NORMAL: CrmImportance.NORMAL,
               Importance.HIGH: CrmImportance.HIGH}


@dataclass(frozen=True)
class Delivered:
    """The CRM holds the message: the activity, and whether this call created it."""

    check: ReasonCode
    result: DeliverResult

    @property
    def correlation(self) -> CorrelationMethod:
        """How the CRM tied the message to earlier mail."""
        return self.result.correlation_method


@dataclass(frozen=True)
class Refused:
    """CheckIncomingEmail declined the message (filtered, no CRM recipient, internal, invalid sender)."""

    reason: ReasonCode


@dataclass(frozen=True)
class CrmRefusal:
    """The CRM rejected this message with an error (a bad request, too large): quarantine it."""

    error: CrmError


CrmOutcome = Delivered | Refused | CrmRefusal


def offer(gateway: CrmGateway, email: IncomingEmail) -> CrmOutcome:
    """Check, then deliver ``email``; a refusal or a message-level CRM error is a value."""
    try:
        check = gateway.check_incoming(email)
        if not check.should_deliver and check.reason is not ReasonCode.DUPLICATE:
            return Refused(check.reason)
        ensure_lease()  # Right before the side effect: a paused instance must not deliver for a lost lane.
        return Delivered(check.reason, gateway.deliver_incoming(email))
    except CrmPermanentError as exc:
        gateway.who_am_i()  # Raises when the router itself is refused: that stops the lane, not the message.
        return CrmRefusal(exc)


class BatchOffer:
    """One batch of e-mails offered to the CRM in one call (``check_and_deliver_incoming``).

    The answers are turned into outcomes one at a time, in order (``outcome``), so the caller records
    each before the next: the first message-level error asks WhoAmI, as ``offer`` does, and an error
    that ended the batch is raised at its message, after the messages the CRM already holds.
    """

    def __init__(self, gateway: CrmGateway, emails: Sequence[IncomingEmail]) -> None:
        self.gateway = gateway
        self.size = len(emails)
        ensure_lease()  # Right before the side effect: a paused instance must not deliver for a lost lane.
        self.answers = gateway.check_and_deliver_incoming(emails)
        self._caller_accepted = False

    def outcome(self, index: int) -> CrmOutcome:
        """The CRM's answer for the ``index``-th e-mail; raises the error that ended the batch there."""
        if index >= len(self.answers):
            raise CrmTransientError(f"the CRM answered {len(self.answers)} of {self.size} messages",
                                    hint="the rest are offered again on the mailbox's next run")
        answer = self.answers[index]
        if answer.error is not None:
            if not isinstance(answer.error, CrmPermanentError):
                raise answer.error
            if not self._caller_accepted:
                self.gateway.who_am_i()  # Raises when the router itself is refused: that stops the lane.
                self._caller_accepted = True
            return CrmRefusal(answer.error)
        assert answer.check is not None
        if answer.delivered is None:
            return Refused(answer.check.reason)
        return Delivered(answer.check.reason, answer.delivered)


def refusal_text(reason: ReasonCode, parsed: ParsedMessage) -> str:
    """Why CheckIncomingEmail declined ``parsed``, saying what the message shows."""
    said = reason.name.lower().replace("_", " ")
    if reason is ReasonCode.INVALID_SENDER:
        raw = parsed.headers.get_raw("From")
        if raw is None:
            return "CheckIncomingEmail declined it: invalid sender — the message has no From header"
        if parsed.from_address is None:
            return (f"CheckIncomingEmail declined it: invalid sender — the From header "
                    f"'{short_detail(raw)}' holds no usable address")
        return f"CheckIncomingEmail declined it: invalid sender {parsed.from_address}"
    if reason is ReasonCode.NO_RECIPIENT_MATCH:
        return "CheckIncomingEmail declined it: no recipient is a CRM user or queue that tracks this mail"
    return f"CheckIncomingEmail declined it: {said}"


def to_incoming_email(parsed: ParsedMessage, *, receiving_address: str, received_on: datetime,
                      attachments: tuple[Attachment, ...], notice: str | None = None
                      ) -> tuple[IncomingEmail, tuple[str, ...]]:
    """Build the CRM's view of ``parsed``; also return the names of attachments that could not be read."""
    kept, unreadable = _attachments(attachments)
    body = _body(parsed)
    notes = [n for n in (notice, _unreadable_notice(unreadable)) if n]
    if notes:
        body += "".join(f'<p style="color:#a00"><i>{html.escape(n)}</i></p>' for n in notes)
    email = IncomingEmail(
        message_id=parsed.message_id or parsed.key.value, subject=fit_subject(parsed.subject)[0],
        sender=_first(parsed.from_), received_on=received_on,
        to=_bare(parsed.to), cc=_bare(parsed.cc), bcc=_bare(parsed.bcc), sent_on=parsed.date,
        submitted_by=_first(parsed.sender), importance=_IMPORTANCE[parsed.importance], body=body,
        attachments=kept, in_reply_to=parsed.in_reply_to, conversation_index=parsed.thread_index,
        receiving_address=receiving_address)
    return email, unreadable


def _bare(boxes: tuple[Mailbox, ...]) -> tuple[str, ...]:
    return tuple(box.address for box in boxes if box.valid)


def _first(boxes: tuple[Mailbox, ...]) -> str:
    return next((box.address for box in boxes if box.valid), "")


def _body(parsed: ParsedMessage) -> str:
    """Every inline text part in order (``description_html``); else the HTML body, else the text body
    escaped into HTML (line breaks kept), else nothing."""
    described = description_html(parsed.body_parts)
    if described is not None:
        return described
    if parsed.body_html is not None:
        return parsed.body_html
    if parsed.body_text is None:
        return ""
    return html.escape(parsed.body_text).replace("\n", "<br>\n")


def _attachments(attachments: tuple[Attachment, ...]) -> tuple[tuple[CrmAttachment, ...], tuple[str, ...]]:
    """Decode each attachment; one that cannot be decoded is left out and named."""
    kept: list[CrmAttachment] = []
    unreadable: list[str] = []
    for attachment in attachments:
        if attachment.in_description:
            continue
        try:
            content = attachment.content()
        except MessageError:
            unreadable.append(attachment.filename)
            continue
        kept.append(CrmAttachment(attachment.filename, attachment.content_type, content,
                                  attachment.content_id if attachment.inline else None))
    return tuple(kept), tuple(unreadable)


def _unreadable_notice(names: tuple[str, ...]) -> str | None:
    if not names:
        return None
    return (f"The e-mail router could not read {len(names)} attachment(s) of this message: "
            f"{', '.join(names)}. The original is in the mailbox.")

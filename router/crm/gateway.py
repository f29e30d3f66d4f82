"""The contract between the router and a CRM: ``CrmGateway`` and the values that cross it.

The router owns transport, scheduling and reliability; the CRM owns every CRM decision — which incoming
mail to track (filtering), how it ties to earlier mail (correlation), which records the addresses are
(party resolution) and the tracking tokens of outgoing mail. The contract therefore mirrors the SDK
messages the legacy E-mail Router called (CheckIncomingEmail, DeliverIncomingEmail, BackgroundSendEmail,
SendEmail, GetTrackingTokenEmail, plain updates of e-mail and mailbox rows), with typed inputs and outputs.

Two implementations exist and one contract suite (``tests/contract``) runs over both:

* ``router.crm.embedded.EmbeddedGateway`` — the zero-setup SQLite CRM, in process;
* ``router.crm.dynamics.DynamicsGateway`` — the Dynamics 365 / CRM 2016 on-premises Web API.

Errors: a CRM that cannot be reached or is busy raises ``CrmTransientError`` (retry after
``back_off``); a CRM that rejects the caller or the request raises ``CrmPermanentError``; a record that
no longer exists raises ``CrmRecordNotFoundError`` (a permanent error the caller may skip). Refusals that
are CRM decisions (a filtered message, a duplicate) are values, never exceptions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from router.crm.codes import (
    Approval,
    CorrelationMethod,
    EmailStatus,
    FilteringMethod,
    Importance,
    IncomingDeliveryMethod,
    MailboxTestStatus,
    Notification,
    OutgoingDeliveryMethod,
    OwnerType,
    ReasonCode,
)
from router.crm.message_ids import bounded_message_id, derive_message_id
from router.errors import CrmError

#: ``PendingStatusDelay`` of the legacy router: an e-mail put back to Pending Send after a failed attempt
#: is not picked up again before this much time has passed since that attempt.
PENDING_STATUS_DELAY = timedelta(minutes=5)
#: ``SendingStatusDelay``: an e-mail claimed (Sending) for longer than this is presumed abandoned.
SENDING_STATUS_DELAY = timedelta(minutes=30)
#: ``MaximumDeliveryAttempts``: after this many failed attempts an e-mail goes to Failed.
MAXIMUM_DELIVERY_ATTEMPTS = 10


@dataclass(frozen=True)
class RecordRef:
    """A CRM record: its logical name (``systemuser``, ``contact``, ``queue``, ...), id and display name."""

    logical_name: str
    id: str
    name: str = ""


@dataclass(frozen=True)
class Party:
    """One activity party: the address used and, when the CRM resolved it, the record it belongs to."""

    address: str
    record: RecordRef | None = None


@dataclass(frozen=True)
class Attachment:
    """A file attached to an e-mail; ``content_id`` is set for inline (cid:) images."""

    filename: str
    mime_type: str
    content: bytes
    content_id: str | None = None

    @property
    def size(self) -> int:
        """Size of the content in bytes."""
        return len(self.content)


@dataclass(frozen=True, kw_only=True)
class IncomingEmail:
    """A message read from a mailbox, as the router hands it to CheckIncomingEmail / DeliverIncomingEmail.

    ``sender`` and the recipient lists hold header values (``addr`` or ``Name <addr>``). ``message_id`` may
    be empty when the message has no Message-ID header: ``crm_message_id`` then derives a stable id from
    the content, identical for every mailbox the same message arrives in. ``receiving_address`` is the
    address of the mailbox the message was read from; it is offered to the CRM as a Bcc recipient when no
    header names it (distribution lists, Bcc), so the CRM can apply that recipient's filter.
    """

    message_id: str
    subject: str
    sender: str
    received_on: datetime
    to: tuple[str, ...] = ()
    cc: tuple[str, ...] = ()
    bcc: tuple[str, ...] = ()
    sent_on: datetime | None = None
    submitted_by: str = ""
    importance: Importance = Importance.NORMAL
    body: str = ""
    attachments: tuple[Attachment, ...] = ()
    in_reply_to: str | None = None
    conversation_index: str | None = None
    receiving_address: str = ""

    @property
    def crm_message_id(self) -> str:
        """The Message-ID given to the CRM: the header value, or a stable id derived from the content.

        A header longer than the CRM's 320-character column is replaced by a digest of itself.
        """
        header = self.message_id.strip()
        return bounded_message_id(header) if header else derive_message_id(self)


@dataclass(frozen=True)
class CheckResult:
    """``CheckIncomingEmailResponse``: whether the CRM wants the message, and why."""

    should_deliver: bool
    reason: ReasonCode


@dataclass(frozen=True)
class DeliverResult:
    """What DeliverIncomingEmail made of a message.

    ``created_new`` is False when an activity with the same Message-ID already existed (the same message
    delivered through a second recipient's mailbox, or delivered twice): no second activity is created.
    """

    email_id: str
    created_new: bool
    correlation_method: CorrelationMethod
    regarding: RecordRef | None = None
    parent_email_id: str | None = None
    notifications: Notification = Notification.NONE


@dataclass(frozen=True)
class IncomingAnswer:
    """What the CRM made of one message of ``check_and_deliver_incoming``.

    ``check`` is CheckIncomingEmail's answer; ``delivered`` is DeliverIncomingEmail's, present when the
    check wanted the message or found it a duplicate (and None otherwise). ``error`` is the CRM's error
    for this message: a permanent one (a bad request, too large) about it, or an error that ended the
    batch here (see ``CrmGateway.check_and_deliver_incoming``); ``delivered`` is then None, and
    ``check`` too when the check itself failed.
    """

    check: CheckResult | None = None
    delivered: DeliverResult | None = None
    error: CrmError | None = None


@dataclass(frozen=True, kw_only=True)
class OutgoingEmail:
    """An e-mail claimed for sending (moved to Sending) by ``background_send``.

    ``subject`` already carries the tracking token; the router sends it unchanged. ``in_reply_to`` and
    ``references`` are the threading headers of the e-mail this one answers, when it answers one;
    ``parent_conversation_index`` is that e-mail's ``conversationindex`` as the CRM stores it (hex or
    base64), from which the reply's Thread-Index is derived.
    """

    email_id: str
    subject: str
    body_html: str
    sender: Party
    sender_mailbox_id: str
    to: tuple[Party, ...] = ()
    cc: tuple[Party, ...] = ()
    bcc: tuple[Party, ...] = ()
    attachments: tuple[Attachment, ...] = ()
    importance: Importance = Importance.NORMAL
    tracking_token: str | None = None
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    parent_conversation_index: str | None = None
    regarding: RecordRef | None = None
    delivery_attempts: int = 0


@dataclass(frozen=True)
class SentEmail:
    """An e-mail that left Exchange: its CRM id, the Message-ID it carried and when it was sent."""

    email_id: str
    message_id: str
    sent_on: datetime


@dataclass(frozen=True)
class AttemptResult:
    """The e-mail after a failed attempt was recorded: attempts so far and its new status."""

    email_id: str
    attempts: int
    status: EmailStatus


@dataclass(frozen=True)
class SendResult:
    """SendEmail's outcome: the subject with its tracking token, and the status the e-mail is now in."""

    email_id: str
    subject: str
    tracking_token: str
    status: EmailStatus


@dataclass(frozen=True)
class CallerIdentity:
    """WhoAmI: the CRM user the router acts as, in which organisation."""

    user_id: str
    business_unit_id: str
    organization_id: str


@dataclass(frozen=True, kw_only=True)
class MailboxInfo:
    """One user's or queue's mailbox that uses the router (Load Data)."""

    mailbox_id: str
    name: str
    address: str
    owner: RecordRef
    owner_type: OwnerType
    incoming_method: IncomingDeliveryMethod
    outgoing_method: OutgoingDeliveryMethod
    approval: Approval
    approval_required: bool
    filtering: FilteringMethod
    incoming_status: MailboxTestStatus = MailboxTestStatus.NOT_RUN
    outgoing_status: MailboxTestStatus = MailboxTestStatus.NOT_RUN
    enabled_incoming: bool = False
    enabled_outgoing: bool = False
    is_forward_mailbox: bool = False
    process_email_received_after: datetime | None = None

    @property
    def approved(self) -> bool:
        """True when the router may use the mailbox: approved, or approval not required."""
        return self.approval is Approval.APPROVED or not self.approval_required

    @property
    def routes_incoming(self) -> bool:
        """True when incoming mail of this mailbox goes through the router (directly or forwarded)."""
        return self.incoming_method in (IncomingDeliveryMethod.ROUTER, IncomingDeliveryMethod.FORWARD_MAILBOX)

    @property
    def routes_outgoing(self) -> bool:
        """True when outgoing mail of this mailbox is sent by the router."""
        return self.outgoing_method is OutgoingDeliveryMethod.ROUTER


def mailbox_order(info: MailboxInfo) -> tuple[int, str, str]:
    """The order Load Data returns mailboxes in: users before queues, then by address."""
    return (0 if info.owner_type is OwnerType.SYSTEMUSER else 1, info.address.lower(), info.mailbox_id)


def reply_headers(
    parent_message_id: str | None, parent_in_reply_to: str | None
) -> tuple[str | None, tuple[str, ...]]:
    """In-Reply-To and References of a reply to an e-mail with these Message-ID and In-Reply-To."""
    if not parent_message_id:
        return None, ()
    return parent_message_id, tuple(m for m in (parent_in_reply_to, parent_message_id) if m)


@dataclass(frozen=True)
class MailboxTestResult:
    """A Test Access result written back to the mailbox (incoming/outgoing status, when it completed)."""

    mailbox_id: str
    incoming: MailboxTestStatus
    outgoing: MailboxTestStatus
    completed_on: datetime


class CrmGateway(Protocol):
    """Everything the router asks of a CRM. Implementations are thread-safe."""

    def who_am_i(self) -> CallerIdentity:
        """Return the CRM user the router acts as; a rejected caller raises CrmPermanentError."""
        ...

    def load_data(self) -> tuple[MailboxInfo, ...]:
        """Return the active users' and queues' mailboxes whose incoming or outgoing method is the router."""
        ...

    def check_incoming(self, email: IncomingEmail) -> CheckResult:
        """CheckIncomingEmail: ask the CRM whether to deliver ``email`` (duplicate, filters, approval)."""
        ...

    def deliver_incoming(self, email: IncomingEmail) -> DeliverResult:
        """DeliverIncomingEmail: create the Received activity (idempotent by Message-ID), correlated."""
        ...

    def check_and_deliver_incoming(self, emails: Sequence[IncomingEmail]) -> tuple[IncomingAnswer, ...]:
        """For each of ``emails`` in order: CheckIncomingEmail, then DeliverIncomingEmail when the check
        wants the message or finds a duplicate; one answer per e-mail, in order.

        The answers are those of calling ``check_incoming`` and ``deliver_incoming`` one message after
        the other (each call journalled as such); an implementation may do it all in one transaction.
        A ``CrmPermanentError`` is its message's answer (``error``) and the batch goes on. Any other
        error (unreachable, busy) ends the batch: raised when no message was delivered (a transactional
        CRM rolls the whole batch back), else it is the last answer's ``error`` and the e-mails after
        it get no answer (the tuple is shorter), so the caller can record what the CRM already holds.
        """
        ...

    def background_send(
        self,
        mailbox_ids: Sequence[str],
        max_count: int,
        *,
        pending_status_delay: timedelta = PENDING_STATUS_DELAY,
    ) -> tuple[OutgoingEmail, ...]:
        """BackgroundSendEmail: claim up to ``max_count`` Pending Send e-mails of these sender mailboxes.

        Claimed e-mails are in Sending; two callers never receive the same e-mail. An e-mail whose last
        attempt is younger than ``pending_status_delay`` is left for later.
        """
        ...

    def pending_send_mailboxes(
        self,
        mailbox_ids: Sequence[str],
        *,
        pending_status_delay: timedelta = PENDING_STATUS_DELAY,
    ) -> frozenset[str]:
        """Which of these sender mailboxes have e-mails BackgroundSendEmail would claim now; claims nothing.

        One query (or a few pages) covers every mailbox, however many: the router asks it once per
        cycle for all served mailboxes of a deployment and wakes only the lanes that have mail to send.
        """
        ...

    def mark_sent(self, email_id: str, message_id: str, sent_on: datetime) -> None:
        """Record a successful send: Sent, with the Message-ID the router gave the message."""
        ...

    def mark_sent_many(self, sent: Sequence[SentEmail]) -> None:
        """``mark_sent`` for each of ``sent``: one request where the CRM takes a batch, else one each.

        Idempotent like ``mark_sent``; an error may leave some of them marked and the others not.
        """
        ...

    def record_failed_attempt(
        self,
        email_id: str,
        reason: str,
        *,
        permanent: bool,
        max_attempts: int = MAXIMUM_DELIVERY_ATTEMPTS,
    ) -> AttemptResult:
        """Count a failed attempt and note ``reason`` on the e-mail.

        The e-mail returns to Pending Send, or goes to Failed when ``permanent`` or when this was
        attempt ``max_attempts``.
        """
        ...

    def release_stuck_sending(
        self,
        mailbox_ids: Sequence[str],
        sending_status_delay: timedelta = SENDING_STATUS_DELAY,
    ) -> tuple[str, ...]:
        """Put e-mails of these mailboxes claimed before ``sending_status_delay`` back to Pending Send."""
        ...

    def send_email(
        self, email_id: str, *, tracking_token: str | None = None, issue_send: bool = True
    ) -> SendResult:
        """SendEmail: a draft goes to Pending Send (or Sent when ``issue_send`` is False) with a token."""
        ...

    def get_tracking_token(self, subject: str = "") -> str:
        """GetTrackingTokenEmail: a new tracking token for the caller."""
        ...

    def record_mailbox_test(self, result: MailboxTestResult) -> None:
        """Write a Test Access result to the mailbox and enable it for what succeeded."""
        ...

    def record_mailbox_tests(self, results: Sequence[MailboxTestResult]) -> None:
        """``record_mailbox_test`` for each of ``results``, in order: in one transaction where the CRM
        has them (an error, such as a mailbox no longer there, then writes none of them), else one
        request each (an error leaves the earlier ones written). A first pass over thousands of
        mailboxes writes their statuses in a few calls instead of one each.
        """
        ...

    def record_mailbox_error(
        self, mailbox_id: str, message: str, *, occurred_on: datetime, code: int | None = None
    ) -> None:
        """Write the mailbox's last error (and count it), as the legacy router's SystemState did."""
        ...

    def clear_mailbox_error(self, mailbox_id: str) -> None:
        """Clear the mailbox's last error and its count after a successful cycle."""
        ...

    def close(self) -> None:
        """Release connections; the gateway is unusable afterwards."""
        ...

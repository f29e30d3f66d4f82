"""``EmbeddedGateway``: the ``CrmGateway`` contract served in process by the embedded CRM.

It turns contract values into the same message parameters a real CRM receives over the Web API
(``router.crm.messages``) and builds the BackgroundSendEmail query the Dynamics adapter sends, so the
embedded CRM makes its decisions from exactly what Dynamics would see.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from router.crm.embedded.crm import EmbeddedCrm
from router.crm.embedded.incoming import deliver_result
from router.crm.embedded.outgoing import NAMED_MAILBOXES
from router.crm.embedded.views import outgoing_email
from router.crm.gateway import (
    MAXIMUM_DELIVERY_ATTEMPTS,
    PENDING_STATUS_DELAY,
    SENDING_STATUS_DELAY,
    AttemptResult,
    CallerIdentity,
    CheckResult,
    CrmGateway,
    DeliverResult,
    IncomingAnswer,
    IncomingEmail,
    MailboxInfo,
    MailboxTestResult,
    OutgoingEmail,
    SendResult,
    SentEmail,
)
from router.crm.incoming_batch import check_and_deliver_each
from router.crm.messages import incoming_message
from router.crm.outgoing_query import pending_send_query
from router.errors import CrmPermanentError
from router.state.fencing import current_token


class EmbeddedGateway:
    """The contract over an ``EmbeddedCrm``, acting as the user ``principal`` (a domain name).

    ``principal=None`` acts as the embedded CRM's own administrator: the router owns that database.
    """

    def __init__(self, crm: EmbeddedCrm, principal: str | None, *, owns_crm: bool = False) -> None:
        self.crm = crm
        self.principal = principal
        self._owns_crm = owns_crm

    def who_am_i(self) -> CallerIdentity:
        return self.crm.who_am_i(self.principal)

    def load_data(self) -> tuple[MailboxInfo, ...]:
        return tuple(self.crm.load_mailboxes(self.principal))

    def check_incoming(self, email: IncomingEmail) -> CheckResult:
        return self.crm.check_incoming_email(self.principal, incoming_message(email), fence=current_token())

    def deliver_incoming(self, email: IncomingEmail) -> DeliverResult:
        delivered = self.crm.deliver_incoming_email(self.principal, incoming_message(email),
                                                    fence=current_token())
        with self.crm.reading() as conn:
            return deliver_result(conn, delivered)

    def check_and_deliver_incoming(self, emails: Sequence[IncomingEmail]) -> tuple[IncomingAnswer, ...]:
        messages = [incoming_message(e) for e in emails]
        try:
            return tuple(self.crm.check_and_deliver_incoming_emails(self.principal, messages,
                                                                          fence=current_token()))
        except CrmPermanentError:
            # One message the CRM refuses rolled the whole transaction back: ask again one message
            # after the other, so that it alone gets the error (the caller refused fails there too).
            return check_and_deliver_each(emails, self.check_incoming, self.deliver_incoming)

    def background_send(
        self,
        mailbox_ids: Sequence[str],
        max_count: int,
        *,
        pending_status_delay: timedelta = PENDING_STATUS_DELAY,
    ) -> tuple[OutgoingEmail, ...]:
        if not mailbox_ids or max_count <= 0:
            return ()
        query = pending_send_query(mailbox_ids, self.crm.now() - pending_status_delay)
        claimed = self.crm.background_send_views(self.principal, query, max_count)
        return tuple(outgoing_email(view) for view in claimed)

    def pending_send_mailboxes(
        self, mailbox_ids: Sequence[str], *, pending_status_delay: timedelta = PENDING_STATUS_DELAY
    ) -> frozenset[str]:
        if not mailbox_ids:
            return frozenset()
        # A deployment's thousands of mailboxes are not named in the statement (binding and compiling
        # 10,000 ids every poll was most of an idle router's outgoing cost): Pending Send is asked for by
        # status alone, through its index, and the senders of other mailboxes are dropped here.
        wanted = {m.lower() for m in mailbox_ids}
        named = mailbox_ids if len(wanted) <= NAMED_MAILBOXES else None
        query = pending_send_query(named, self.crm.now() - pending_status_delay)
        return frozenset(m for m in self.crm.pending_senders(self.principal, query) if m.lower() in wanted)

    def mark_sent(self, email_id: str, message_id: str, sent_on: datetime) -> None:
        self.crm.mark_sent(self.principal, email_id, message_id, sent_on)

    def mark_sent_many(self, sent: Sequence[SentEmail]) -> None:
        if sent:
            self.crm.mark_sent_many(self.principal, sent)

    def record_failed_attempt(
        self, email_id: str, reason: str, *, permanent: bool, max_attempts: int = MAXIMUM_DELIVERY_ATTEMPTS
    ) -> AttemptResult:
        return self.crm.record_failed_attempt(
            self.principal, email_id, reason, permanent=permanent, max_attempts=max_attempts
        )

    def release_stuck_sending(
        self, mailbox_ids: Sequence[str], sending_status_delay: timedelta = SENDING_STATUS_DELAY
    ) -> tuple[str, ...]:
        if not mailbox_ids:
            return ()
        cutoff = self.crm.now() - sending_status_delay
        return tuple(self.crm.release_stuck_sending(self.principal, mailbox_ids, cutoff))

    def send_email(
        self, email_id: str, *, tracking_token: str | None = None, issue_send: bool = True
    ) -> SendResult:
        return self.crm.send_email(
            self.principal, email_id, issue_send=issue_send, tracking_token=tracking_token
        )

    def get_tracking_token(self, subject: str = "") -> str:
        return self.crm.get_tracking_token_email(self.principal, subject)

    def record_mailbox_test(self, result: MailboxTestResult) -> None:
        self.crm.record_mailbox_test(self.principal, result)

    def record_mailbox_tests(self, results: Sequence[MailboxTestResult]) -> None:
        self.crm.record_mailbox_tests(self.principal, results)

    def record_mailbox_error(
        self, mailbox_id: str, message: str, *, occurred_on: datetime, code: int | None = None
    ) -> None:
        self.crm.record_mailbox_error(self.principal, mailbox_id, message, occurred_on, code)

    def clear_mailbox_error(self, mailbox_id: str) -> None:
        self.crm.clear_mailbox_error(self.principal, mailbox_id)

    def close(self) -> None:
        if self._owns_crm:
            self.crm.close()


if TYPE_CHECKING:
    # mypy proves here that the class satisfies the contract.
    _CONFORMS: type[CrmGateway] = EmbeddedGateway

"""Claiming emails to send: from the CRM (BackgroundSendEmail) and in the router's send records.

Two claims guard every email. The CRM's moves it from Pending Send to Sending, so that no other
router picks it up; ``claim_from_crm`` first hands back e-mails left in Sending for longer than
SendingStatusDelay (a router that died), then claims up to a batch. The send record's claim
(``SendClaimer.take``) records the Message-ID the email will carry *before* anything is rendered, and
says whether an earlier attempt may already have reached Exchange.

Emails claimed from the CRM but not yet attempted wait in the mailbox's ``Backlog`` (a rate limit or a
server back-off ended the run early); the next run of the lane takes them first. If the process stops
meanwhile they are still Sending in the CRM, which hands them back after SendingStatusDelay.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from router.config.settings import SystemSettings
from router.crm.gateway import CrmGateway, OutgoingEmail
from router.pipeline.outgoing.addresses import domain_of
from router.pipeline.outgoing.message_id import new_message_id
from router.state import ClaimOutcome, SendClaim, SendRecords, SendStage


def claim_from_crm(gateway: CrmGateway, mailbox_id: str, count: int, settings: SystemSettings, *,
                   release_stuck: bool = True) -> tuple[OutgoingEmail, ...]:
    """Release the mailbox's e-mails stuck in Sending, then claim up to ``count`` Pending Send ones.

    ``release_stuck`` is False when the deployment's poll (``poller``) released them this cycle.
    """
    if release_stuck:
        gateway.release_stuck_sending([mailbox_id], timedelta(seconds=settings.sending_status_delay_seconds))
    if count <= 0:
        return ()
    return gateway.background_send([mailbox_id], count,
                                   pending_status_delay=timedelta(seconds=settings.pending_status_delay_seconds))


class Backlog:
    """Emails of one mailbox claimed from the CRM and not yet attempted, oldest first.

    Only the mailbox's lane uses it, and the scheduler never runs a lane twice at once, so it needs
    no lock. It outlives the lane's work: a lane rebuilt by a new configuration finds it again.
    """

    def __init__(self) -> None:
        self._emails: deque[OutgoingEmail] = deque()

    def add(self, emails: Iterable[OutgoingEmail]) -> int:
        """Queue ``emails`` after those waiting, skipping any already queued; return how many were added."""
        known = {email.email_id for email in self._emails}
        fresh = [email for email in emails if email.email_id not in known]
        self._emails.extend(fresh)
        return len(fresh)

    def take(self) -> OutgoingEmail:
        """Remove and return the oldest waiting email."""
        return self._emails.popleft()

    def take_many(self, count: int) -> list[OutgoingEmail]:
        """Remove and return up to ``count`` of the oldest waiting emails."""
        return [self._emails.popleft() for _ in range(min(count, len(self._emails)))]

    def put_back(self, email: OutgoingEmail) -> None:
        """Return ``email`` to the front: its attempt was cut short by the CRM or the state store."""
        self._emails.appendleft(email)

    def put_back_many(self, emails: Iterable[OutgoingEmail]) -> None:
        """Return ``emails`` to the front, in their order: their attempts did not happen or were cut short."""
        self._emails.extendleft(reversed(list(emails)))

    def drain(self) -> list[OutgoingEmail]:
        """Remove and return every waiting email."""
        emails, self._emails = list(self._emails), deque()
        return emails

    def __len__(self) -> int:
        return len(self._emails)


class Taken(StrEnum):
    """What the send record's claim on an email allows."""

    ACQUIRED = "acquired"
    """Ours to send (or to find in Sent Items first, when ``may_have_been_sent``)."""
    ALREADY_SENT = "already_sent"
    """Recorded as sent long ago: only tell the CRM again, never send."""
    BUSY = "busy"
    """Another live worker holds it: leave it alone."""


@dataclass(frozen=True)
class EmailClaim:
    """The answer of ``SendClaimer.take``."""

    taken: Taken
    claim: SendClaim

    @property
    def message_id(self) -> str:
        """The Message-ID the email carries, the same on every attempt."""
        return self.claim.message_id


class SendClaimer:
    """Claims emails in the send records for one worker identity (``owner``)."""

    def __init__(self, sends: SendRecords, owner: str) -> None:
        self._sends = sends
        self.owner = owner

    def take(self, mailbox: str, email: OutgoingEmail) -> EmailClaim:
        """Claim ``email`` of ``mailbox``; its first claim records a new Message-ID in the mailbox's domain.

        An email whose record FAILED and that the CRM hands back again was resubmitted by a user: it is
        reopened with its old Message-ID. One whose record is final as sent is only reported again.
        """
        return self.take_many(mailbox, [email])[0]

    def take_many(self, mailbox: str, emails: Sequence[OutgoingEmail]) -> list[EmailClaim]:
        """``take`` for a batch of emails of ``mailbox``: their claims are recorded in one transaction."""
        domain = domain_of(mailbox)
        proposals = [(email.email_id, new_message_id(domain)) for email in emails]
        claims = self._sends.claim_many(mailbox, proposals, owner=self.owner) if proposals else []
        return [self._taken(claim) for claim in claims]

    def _taken(self, claim: SendClaim) -> EmailClaim:
        if claim.outcome is ClaimOutcome.DONE and claim.record.stage is SendStage.RECORDED:
            return EmailClaim(Taken.ALREADY_SENT, claim)
        if claim.outcome is ClaimOutcome.DONE:
            claim = self._sends.reopen(claim)
        return EmailClaim(Taken.ACQUIRED if claim.acquired else Taken.BUSY, claim)

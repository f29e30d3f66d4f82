"""One attempt at one email: claim it, find it or render it, submit it, record what happened.

::

    take the send record's claim (our Message-ID recorded first)   ── checkpoint CLAIMED
    record at SUBMITTED already?            ──► record Sent (no search, no submission)
    may have been sent?  ──► our Message-ID in Sent Items / Outbox?  ──► found: record Sent
    compose + render                                               ── checkpoint RENDERED
    submit (CreateItem SendAndSaveCopy)                            ── checkpoint SUBMITTED
    send record at SUBMITTED                                       ── checkpoint SUBMISSION_RECORDED
    CRM: Sent, messageid, senton                                   ── checkpoint MARKED_SENT
    send record final                                              ── checkpoint FINISHED

A failure of the email or of Exchange is a value (``Attempted`` with its ``Failure``), recorded in the
CRM before it is returned; the lane decides what it means for the rest of the batch. Errors of the CRM
or of the state store are raised: the run ends and the lane retries with back-off.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from router.clock import Clock
from router.crm.gateway import OutgoingEmail
from router.errors import ClaimLostError, MessageError, RouterError, SendAsDeniedError, TransportError
from router.pipeline.outgoing.claim import SendClaimer, Taken
from router.pipeline.outgoing.compose import compose, sender_address
from router.pipeline.outgoing.failures import Failure, classify
from router.pipeline.outgoing.rate_limit import SendRateLimiter
from router.pipeline.outgoing.record import Recorder
from router.pipeline.outgoing.recover import find_sent
from router.pipeline.outgoing.render import RenderedMessage, render
from router.pipeline.outgoing.send import discard_drafts, submit
from router.pipeline.outgoing.steps import Checkpoint, Step
from router.state import ClaimOutcome, SendClaim, SendRecords, SendStage

log = logging.getLogger(__name__)


class AccountSource(Protocol):
    """The exchangelib account of the lane's mailbox, built on first use, rebuilt after endpoint failures."""

    def get(self) -> Any:
        """The account to send with."""
        ...

    def failed(self, error: TransportError) -> None:
        """Report an EWS failure; an endpoint failure makes the next ``get`` build a new account."""
        ...


class Result(StrEnum):
    """What one attempt came to."""

    SENT = "sent"
    """Submitted now and recorded."""
    FOUND = "found"
    """An earlier attempt had sent it (found in Sent Items, or recorded as submitted): recorded only."""
    SKIPPED = "skipped"
    """Another worker holds it."""
    FAILED = "failed"
    """Not sent; ``failure`` says why and what it means."""


@dataclass(frozen=True)
class Attempted:
    """The outcome of one attempt."""

    result: Result
    failure: Failure | None = None
    error: RouterError | None = None


@dataclass(frozen=True)
class Sender:
    """The lane's mailbox as the sender of its emails: its address, display name and loop identity."""

    address: str
    name: str
    loop_identity: str


class EmailAttempt:
    """Attempts the emails of one mailbox; see the module docstring."""

    def __init__(self, sender: Sender, accounts: AccountSource, *, claimer: SendClaimer, sends: SendRecords,
                 recorder: Recorder, limiter: SendRateLimiter, clock: Clock, checkpoint: Checkpoint) -> None:
        self._sender = sender
        self._accounts = accounts
        self._claimer = claimer
        self._sends = sends
        self._recorder = recorder
        self._limiter = limiter
        self._clock = clock
        self._checkpoint = checkpoint

    def __call__(self, email: OutgoingEmail) -> Attempted:
        """Attempt ``email`` once."""
        taken = self._claimer.take(self._sender.address, email)
        if taken.taken is Taken.BUSY:
            return Attempted(Result.SKIPPED)
        if taken.taken is Taken.ALREADY_SENT:
            self._recorder.sent_before(taken.claim)
            return Attempted(Result.FOUND)
        self._checkpoint(Step.CLAIMED, email.email_id)
        try:
            return self._attempt(email, taken.claim)
        except ClaimLostError as exc:
            log.warning("%s", exc.message, extra={"mailbox": self._sender.address})
            return Attempted(Result.SKIPPED)

    def _attempt(self, email: OutgoingEmail, claim: SendClaim) -> Attempted:
        if claim.record.stage is SendStage.SUBMITTED:
            self._recorder.sent(claim, claim.record.submitted_at or self._clock.now())
            return Attempted(Result.FOUND)
        try:
            if claim.may_have_been_sent and self._found(claim):
                return Attempted(Result.FOUND)
            if claim.outcome is ClaimOutcome.EXHAUSTED:
                return self._fail(email, claim, _exhausted(email, claim))
            rendered = self._render(email, claim)
            self._sends.mark_rendered(claim)
            self._checkpoint(Step.RENDERED, email.email_id)
            self._limiter.try_acquire(self._sender.address)
            submit(self._accounts.get(), rendered, mailbox=self._sender.address, item_id=email.email_id)
        except (TransportError, MessageError) as exc:
            return self._failed(email, claim, exc)
        self._checkpoint(Step.SUBMITTED, email.email_id)
        self._sends.mark_submitted(claim)
        self._checkpoint(Step.SUBMISSION_RECORDED, email.email_id)
        self._recorder.sent(claim, self._clock.now())
        return Attempted(Result.SENT)

    def _found(self, claim: SendClaim) -> bool:
        """Look for the claim's Message-ID in Sent Items; when it is there, record the email as sent."""
        copy = find_sent(self._accounts.get(), claim.message_id, mailbox=self._sender.address,
                         item_id=claim.record.email_id)
        if copy is None:
            return False
        log.info("email %s was already sent as %s (found in %s); recording it without sending again",
                 claim.record.email_id, claim.message_id, copy.folder,
                 extra={"mailbox": self._sender.address})
        self._sends.mark_submitted(claim)
        self._recorder.sent(claim, copy.sent_on or claim.record.updated_at)
        return True

    def _render(self, email: OutgoingEmail, claim: SendClaim) -> RenderedMessage:
        sender = sender_address(email, self._sender.address, self._sender.name)
        message = compose(email, sender=sender, message_id=claim.message_id, date=self._clock.now())
        rendered = render(message, loop_identity=self._sender.loop_identity)
        for warning in rendered.warnings:
            log.info("email %s: %s", email.email_id, warning, extra={"mailbox": self._sender.address})
        return rendered

    def _failed(self, email: OutgoingEmail, claim: SendClaim, error: RouterError) -> Attempted:
        if isinstance(error, TransportError):
            self._accounts.failed(error)
        attempted = self._fail(email, claim, error)
        if isinstance(error, SendAsDeniedError):
            discard_drafts(self._accounts.get(), claim.message_id, mailbox=self._sender.address,
                           item_id=email.email_id)
        return attempted

    def _fail(self, email: OutgoingEmail, claim: SendClaim, error: RouterError) -> Attempted:
        failure = classify(error)
        self._recorder.failed(email.email_id, claim, failure)
        return Attempted(Result.FAILED, failure, error)


def _exhausted(email: OutgoingEmail, claim: SendClaim) -> MessageError:
    """The error of an email whose sending stopped the router too often to be tried again."""
    return MessageError(
        f"the router stopped {claim.record.recoveries} times while sending this email; it is set aside so "
        "that it cannot stop the router again",
        hint="check the router's log for the crash, then resubmit the email", item_id=email.email_id)

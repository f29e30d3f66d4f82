"""One attempt at a batch of emails of one mailbox: claim them, find or render each, submit, record.

Every state write and CRM update covers the whole batch (one transaction, one request), so a batch of
N emails costs a handful of round trips instead of a handful per email. The submissions go several to a
request (one CreateItem answers one response message per item; Graph sends one at a time); only the
Sent Items searches of recovered emails are one per email::

    take the send records' claims (our Message-IDs recorded first)   ── checkpoint CLAIMED, each
    record at SUBMITTED already?            ──► record Sent (no search, no submission)
    may have been sent?  ──► our Message-ID in Sent Items / Outbox?  ──► found: record Sent
    compose + render each; the records at RENDERED                   ── checkpoint RENDERED, each
    submit, several to a CreateItem SendAndSaveCopy                  ── checkpoint SUBMITTED, each
    the records of all submitted at SUBMITTED                        ── checkpoint SUBMISSION_RECORDED
    CRM: all Sent, messageid, senton                                 ── checkpoint MARKED_SENT
    the records final                                                ── checkpoint FINISHED

Exactly once holds at every step as it did one email at a time: a record at RENDERED may have left
(a crash after a submission leaves its emails RENDERED although sent, and a request that fails as a
whole may have sent any of its emails), so its recovery searches Sent Items first; one at SUBMITTED is
only recorded. A failure of an email or of
Exchange is a value (``Attempted`` with its ``Failure``), recorded in the CRM. A failure that holds or
stops the mailbox ends the batch: the emails not submitted yet give their claims back (``unattempted``)
and the lane puts them first in line; what was submitted is recorded all the same. Errors of the CRM
or of the state store are raised: the lane puts back what ``settled`` does not name and retries.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
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
from router.pipeline.outgoing.send import discard_drafts, request_chunks, submit_many
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

    @property
    def one_by_one(self) -> bool:
        """True when the transport sends one email per request (Graph's sendMail)."""
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


BATCH_SECONDS = 60.0
"""Longest a batch goes on submitting: well within the send records' lease (5 minutes), so that no other
worker can take over a rendered email while this one may still submit it."""


@dataclass
class _Email:
    """An email of the batch on its way: its claim, its MIME once rendered, when it left Exchange."""

    email: OutgoingEmail
    claim: SendClaim
    rendered: RenderedMessage | None = None
    sent_on: datetime | None = None
    found: bool = False


@dataclass
class BatchOutcome:
    """What became of a batch: each attempted email's outcome, and those given back unattempted."""

    attempted: list[tuple[OutgoingEmail, Attempted]] = field(default_factory=list)
    unattempted: list[OutgoingEmail] = field(default_factory=list)
    stop: Attempted | None = None
    """The failure that held or stopped the mailbox and so ended the batch early, if any."""


class EmailAttempt:
    """Attempts the emails of one mailbox, a batch at a time; see the module docstring."""

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
        self.settled: set[str] = set()
        """Ids of the emails of the current batch whose attempt is over (recorded, failed or skipped)."""

    def batch(self, emails: list[OutgoingEmail]) -> BatchOutcome:
        """Attempt ``emails`` (the mailbox may send them all now) in order; see the module docstring."""
        self.settled = set()
        outcome = BatchOutcome()
        acquired = self._claim(emails, outcome)
        sent, to_render = self._prepare(acquired, outcome)
        rendered = self._mark_rendered(to_render, outcome)
        submitted = self._submit(rendered, outcome)
        self._record_sent(sent + submitted, outcome)
        return outcome

    def _done(self, outcome: BatchOutcome, email: OutgoingEmail, attempted: Attempted) -> None:
        outcome.attempted.append((email, attempted))
        self.settled.add(email.email_id)

    def _claim(self, emails: list[OutgoingEmail], outcome: BatchOutcome) -> list[_Email]:
        """The send records' claims, in one transaction; emails another worker holds are skipped."""
        acquired = []
        for email, taken in zip(emails, self._claimer.take_many(self._sender.address, emails), strict=True):
            if taken.taken is Taken.BUSY:
                self._done(outcome, email, Attempted(Result.SKIPPED))
            elif taken.taken is Taken.ALREADY_SENT:
                self._recorder.sent_before(taken.claim)
                self._done(outcome, email, Attempted(Result.FOUND))
            else:
                acquired.append(_Email(email, taken.claim))
        for item in acquired:
            self._checkpoint(Step.CLAIMED, item.email.email_id)
        return acquired

    def _prepare(self, acquired: list[_Email], outcome: BatchOutcome) -> tuple[list[_Email], list[_Email]]:
        """Split the claimed emails: known to have left (submitted, or found in Sent Items), to render."""
        sent = [item for item in acquired if item.claim.record.stage is SendStage.SUBMITTED]
        for item in sent:
            item.sent_on = item.claim.record.submitted_at or self._clock.now()
        pending = [item for item in acquired if item.claim.record.stage is not SendStage.SUBMITTED]
        to_render: list[_Email] = []
        for index, item in enumerate(pending):
            try:
                self._prepare_one(item, sent, to_render, outcome)
            except (TransportError, MessageError) as exc:
                if self._ends_batch(item, exc, outcome):
                    self._give_back(to_render + pending[index + 1:], outcome)
                    return sent, []
        return sent, to_render

    def _prepare_one(self, item: _Email, sent: list[_Email], to_render: list[_Email],
                     outcome: BatchOutcome) -> None:
        claim = item.claim
        if claim.may_have_been_sent and self._found(item):
            sent.append(item)
        elif claim.outcome is ClaimOutcome.EXHAUSTED:
            self._done(outcome, item.email, self._fail(item.email, claim, _exhausted(item.email, claim)))
        else:
            item.rendered = self._render(item.email, claim)
            to_render.append(item)

    def _mark_rendered(self, to_render: list[_Email], outcome: BatchOutcome) -> list[_Email]:
        """The rendered emails' records at RENDERED, in one transaction."""
        if not to_render:
            return []
        records = self._sends.mark_rendered_many([item.claim for item in to_render])
        return self._kept(to_render, records, Step.RENDERED, outcome)

    def _kept(self, items: list[_Email], records: Sequence[object | None], step: Step,
              outcome: BatchOutcome) -> list[_Email]:
        """The emails whose record the batch write moved on (at ``step``); the others lost their claim."""
        kept = [item for item, record in zip(items, records, strict=True) if record is not None]
        for item, record in zip(items, records, strict=True):
            if record is None:
                self._lost(item, outcome)
        for item in kept:
            self._checkpoint(step, item.email.email_id)
        return kept

    def _submit(self, rendered: list[_Email], outcome: BatchOutcome) -> list[_Email]:
        """Submit the rendered emails, several to a request (``send.request_chunks``), until a failure
        holds or stops the mailbox."""
        submitted: list[_Email] = []
        deadline = self._clock.monotonic() + BATCH_SECONDS
        sizes = [len(item.rendered.mime) if item.rendered else 0 for item in rendered]
        start = 0
        for count in request_chunks(sizes, one_by_one=self._accounts.one_by_one):
            chunk = rendered[start:start + count]
            if outcome.stop is not None or self._clock.monotonic() > deadline:
                self._give_back(rendered[start:], outcome)
                break
            start += count
            submitted.extend(self._submit_chunk(chunk, outcome))
        return submitted

    def _submit_chunk(self, chunk: list[_Email], outcome: BatchOutcome) -> list[_Email]:
        """One request for ``chunk``; each email's own outcome is recorded, the sent ones returned."""
        messages = [item.rendered for item in chunk if item.rendered is not None]
        assert len(messages) == len(chunk), "only rendered emails are submitted"
        try:
            for _ in chunk:
                self._limiter.try_acquire(self._sender.address)
            errors = submit_many(self._accounts.get(), messages, mailbox=self._sender.address,
                                 item_ids=[item.email.email_id for item in chunk])
        except (TransportError, MessageError) as exc:
            # The request failed as a whole: the first email takes the failed attempt; whether Exchange
            # sent the others is unknown, so they go back and their next attempt looks in Sent Items.
            self._ends_batch(chunk[0], exc, outcome)
            self._give_back(chunk[1:], outcome, outcome_unknown=True)
            return []
        except ClaimLostError as exc:  # The lane's lease is lost (``ensure_lease``): send nothing more.
            log.warning("%s", exc.message, extra={"mailbox": self._sender.address})
            for item in chunk:
                self._done(outcome, item.email, Attempted(Result.SKIPPED))
            return []
        sent_on = self._clock.now()
        submitted = []
        for item, error in zip(chunk, errors, strict=True):
            if error is None:
                item.sent_on = sent_on
                submitted.append(item)
                self._checkpoint(Step.SUBMITTED, item.email.email_id)
            elif outcome.stop is None:
                self._ends_batch(item, error, outcome)
            else:
                self._refused_after_stop(item, error, outcome)
        return submitted

    def _refused_after_stop(self, item: _Email, error: TransportError, outcome: BatchOutcome) -> None:
        """Exchange refused ``item`` in the request whose earlier email held or stopped the mailbox: it
        goes back unsent, as the emails after that one in the batch do (a refused Send As left a draft)."""
        if isinstance(error, SendAsDeniedError):
            discard_drafts(self._accounts.get(), item.claim.message_id, mailbox=self._sender.address,
                           item_id=item.email.email_id)
        self._give_back([item], outcome)

    def _record_sent(self, sent: list[_Email], outcome: BatchOutcome) -> None:
        """Submission records (one transaction), the CRM's Sent (one request), the records final."""
        if not sent:
            return
        recorded = [item for item in sent if item.claim.record.stage is SendStage.SUBMITTED]
        to_mark = [item for item in sent if item.claim.record.stage is not SendStage.SUBMITTED]
        records = self._sends.mark_submitted_many([item.claim for item in to_mark]) if to_mark else []
        marked = self._kept(to_mark, records, Step.SUBMISSION_RECORDED, outcome)
        kept = recorded + marked
        finished = {claim.record.email_id for claim in self._recorder.sent_many(
            [(item.claim, item.sent_on or self._clock.now()) for item in kept])}
        for item in kept:
            found = item.found or item.claim.record.stage is SendStage.SUBMITTED
            result = (Result.FOUND if found else Result.SENT) if item.email.email_id in finished \
                else Result.SKIPPED
            self._done(outcome, item.email, Attempted(result))

    def _found(self, item: _Email) -> bool:
        """Look for the claim's Message-ID in Sent Items; when it is there, it is recorded with the batch."""
        claim = item.claim
        copy = find_sent(self._accounts.get(), claim.message_id, mailbox=self._sender.address,
                         item_id=claim.record.email_id)
        if copy is None:
            return False
        log.info("email %s was already sent as %s (found in %s); recording it without sending again",
                 claim.record.email_id, claim.message_id, copy.folder,
                 extra={"mailbox": self._sender.address})
        item.found = True
        item.sent_on = copy.sent_on or claim.record.updated_at
        return True

    def _render(self, email: OutgoingEmail, claim: SendClaim) -> RenderedMessage:
        sender = sender_address(email, self._sender.address, self._sender.name)
        message = compose(email, sender=sender, message_id=claim.message_id, date=self._clock.now())
        rendered = render(message, loop_identity=self._sender.loop_identity)
        for warning in rendered.warnings:
            log.info("email %s: %s", email.email_id, warning, extra={"mailbox": self._sender.address})
        return rendered

    def _ends_batch(self, item: _Email, error: RouterError, outcome: BatchOutcome) -> bool:
        """Record the failed attempt of ``item``; True (and ``outcome.stop`` set) when it holds or stops
        the mailbox, so the batch submits nothing more."""
        attempted = self._failed(item.email, item.claim, error)
        self._done(outcome, item.email, attempted)
        failure = attempted.failure
        if failure is not None and (failure.transient or failure.stops_lane):
            outcome.stop = attempted
            return True
        return False

    def _give_back(self, items: list[_Email], outcome: BatchOutcome, *,
                   outcome_unknown: bool = False) -> None:
        """The batch ended before these were submitted (or, ``outcome_unknown``, in a request that failed
        as a whole): their claims go back (one transaction)."""
        if not items:
            return
        self._sends.release_unsent([item.claim for item in items], outcome_unknown=outcome_unknown,
                                   error="not attempted: the batch ended early because the mailbox must wait")
        outcome.unattempted.extend(item.email for item in items)

    def _lost(self, item: _Email, outcome: BatchOutcome) -> None:
        """Another worker took the email's claim over: it finishes the email."""
        log.warning("the claim on CRM email %s was taken over or finished by another worker; it finishes "
                    "the email", item.email.email_id, extra={"mailbox": self._sender.address})
        self._done(outcome, item.email, Attempted(Result.SKIPPED))

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
        try:
            self._recorder.failed(email.email_id, claim, failure)
        except ClaimLostError as exc:
            log.warning("%s", exc.message, extra={"mailbox": self._sender.address})
            return Attempted(Result.SKIPPED)
        return Attempted(Result.FAILED, failure, error)


def _exhausted(email: OutgoingEmail, claim: SendClaim) -> MessageError:
    """The error of an email whose sending stopped the router too often to be tried again."""
    return MessageError(
        f"the router stopped {claim.record.recoveries} times while sending this email; it is set aside so "
        "that it cannot stop the router again",
        hint="check the router's log for the crash, then resubmit the email", item_id=email.email_id)

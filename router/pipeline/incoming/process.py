"""Processing one fetched message up to the CRM commit: claim, parse, screen, size, check, deliver, record.

``ItemProcessor.process`` takes a fetched item and returns an ``Outcome`` (a value; nothing about one
message is raised unless the whole lane must stop): what the ledger now says and whether, and how,
the item is to be acknowledged on the server; or, for a message that reached step 6, an ``Offer``.
The lane offers the offers of a fetched batch to the CRM in one call (``deliver.BatchOffer``) and
``ItemProcessor.conclude`` records each answer in order (step 7). The steps, each committed before the
next starts:

1. parse (pure; MIME the parser rejects is quarantined with the raw bytes kept) and, in a forward
   mailbox, unwrap the forwarded original (pure);
2. claim the message in the ledger; a message already final is left alone, one held by a live worker
   is skipped, one a crash left at ``delivered`` goes straight to acknowledgement; a further item
   with the message key of another item of the mailbox gets a key of its own (``ledger_keys``);
3. forward mailboxes: find the CRM user who forwarded it;
4. screen the original (loops, auto-replies, bounces, the sender's rate) — a skip is recorded;
5. apply the size policy — strip oversized attachments (noted on the activity) or quarantine;
6. CheckIncomingEmail and DeliverIncomingEmail (``deliver.BatchOffer`` for the batch, ``deliver.offer``
   for one message) — a refusal is recorded, an error about this message quarantines it;
7. record the activity in the trail and the ledger (one transaction for the batch's delivered
   messages) — the lane acknowledges on the server only after this. An activity the CRM already
   held is ``recovered`` (an earlier attempt of this item created it) or a ``duplicate`` with the
   difference to the first copy (``duplicates``);
   every accepted message leaves its content fingerprint in the trail for that comparison.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from router.clock import Clock
from router.crm.gateway import CrmGateway, IncomingEmail
from router.errors import MessageError
from router.pipeline.incoming.acknowledge import AckKind
from router.pipeline.incoming.checkpoints import Checkpoint, Step
from router.pipeline.incoming.content_changes import content_changes, fit_subject
from router.pipeline.incoming.decisions import Decisions, Delivery, Note, Subject
from router.pipeline.incoming.deliver import (
    CrmOutcome,
    CrmRefusal,
    Delivered,
    Refused,
    offer,
    refusal_text,
    to_incoming_email,
)
from router.pipeline.incoming.duplicates import duplicate_text, held_result, recovered_text
from router.pipeline.incoming.fetch import FetchedItem
from router.pipeline.incoming.fingerprint import CONTENT_RESULT, CONTENT_STAGE, fingerprint
from router.pipeline.incoming.forward import ForwardUsers
from router.pipeline.incoming.forward_unwrap import UnwrapResult, resolve_forwarder, unwrap_forward
from router.pipeline.incoming.ledger_keys import LedgerReader, ledger_key
from router.pipeline.incoming.options import LaneOptions
from router.pipeline.incoming.parse import ParsedMessage, parse_message
from router.pipeline.incoming.quarantine import Reason, Stage, quarantine
from router.pipeline.incoming.rate_breaker import RateBreaker
from router.pipeline.incoming.screening import ITEM_CLASS_NOTE, screen
from router.pipeline.incoming.size_policy import SizeAction, SizeReason, apply_size_policy
from router.state import ClaimOutcome, LedgerClaim, LedgerEntry, LedgerStage, StateStore
from router.state.keys import derive_message_key


@dataclass(frozen=True)
class Outcome:
    """What processing one item came to.

    ``claim`` is None when the item was not taken (final already, or busy elsewhere). ``ack`` says how
    to acknowledge it on the server (None: leave it as it is); ``finish`` is the ledger stage the lane
    writes once acknowledged (``acknowledged`` for delivered mail, ``screened`` for the unaccepted
    mail of service mailboxes; None when the ledger is already final). ``reason`` is the screening
    or CRM reason code of a skip, or the stage of a quarantine; ``detail`` its code and text for the
    log (``fates``).
    """

    result: str
    subject: Subject | None = None
    claim: LedgerClaim | None = None
    ack: AckKind | None = None
    finish: LedgerStage | None = None
    activity_id: str | None = None
    reason: str | None = None
    detail: str | None = None

    @property
    def worked(self) -> bool:
        """True when this run did something with the item."""
        return self.claim is not None


@dataclass
class Envelope:
    """One message on its way through: the raw item, its parse, and (forward mode) the unwrapping."""

    item: FetchedItem
    parsed: ParsedMessage | None
    error: MessageError | None
    unwrap: UnwrapResult | None
    subject: Subject
    earlier: LedgerEntry | None = None
    """Another item of this mailbox that has the same message key (``ledger_keys``)."""
    keyed: bool = True
    """False while ``subject.message_key`` is the message key, not yet the ledger key (``read``)."""

    @property
    def original(self) -> ParsedMessage | None:
        """The message the CRM gets: the forwarded original in a forward mailbox, else the parse."""
        if self.unwrap is not None:
            return self.unwrap.original if self.unwrap.unwrapped else None
        return self.parsed


@dataclass(frozen=True)
class Offer:
    """A claimed message ready for the CRM (step 6): the lane offers its batch's offers in one call,
    then ``ItemProcessor.conclude`` records each answer."""

    envelope: Envelope
    claim: LedgerClaim
    email: IncomingEmail
    notes: list[Note]


class ItemProcessor:
    """Processes single items of one lane; shared state is the store, the gateway and the breaker."""

    def __init__(self, options: LaneOptions, store: StateStore, gateway: CrmGateway, *, owner: str,
                 breaker: RateBreaker, forward_users: ForwardUsers | None, clock: Clock,
                 checkpoint: Checkpoint) -> None:
        self.options = options
        self.store = store
        self.gateway = gateway
        self.owner = owner
        self.breaker = breaker
        self.forward_users = forward_users
        self.clock = clock
        self.checkpoint = checkpoint
        self.decisions = Decisions(store)

    # Entry points -------------------------------------------------------------------------------

    def open(self, item: FetchedItem, known_key: str | None = None) -> Envelope:
        """Parse (and unwrap) an item and find its ledger key. ``known_key``: the ledger's key."""
        envelope = self.read(item, known_key)
        if known_key is None:
            self._key(envelope, self.store.ledger)
        return envelope

    def read(self, item: FetchedItem, known_key: str | None = None) -> Envelope:
        """Parse (and unwrap) an item; its subject holds ``known_key``, else the message key, which
        ``claim_all`` turns into the ledger key (``ledger_keys``) inside the claims' transaction."""
        try:
            parsed, error = parse_message(item.mime), None
        except MessageError as exc:
            parsed, error = None, exc
        unwrap = unwrap_forward(parsed) if parsed is not None and self.options.forward else None
        key = known_key or (parsed.key.value if parsed is not None else
                            derive_message_key(None, [b"unparseable", item.item_id, item.mime]))
        shown = unwrap.original if unwrap is not None and unwrap.original is not None else parsed
        message_id = (shown.message_id or shown.key.value) if shown is not None else None
        subject = Subject(self.options.mailbox, key, message_id, item.item_id)
        return Envelope(item, parsed, error, unwrap, subject, keyed=known_key is not None)

    def claim(self, envelope: Envelope) -> LedgerClaim:
        """Claim the envelope's message in the ledger."""
        s = envelope.subject
        return self.store.ledger.claim(s.mailbox, s.message_key, owner=self.owner, item_id=s.item_id,
                                       internet_message_id=s.internet_message_id)

    def claim_all(self, envelopes: Sequence[Envelope]) -> list[LedgerClaim]:
        """Key and claim the envelopes of a batch, in order, in one ledger transaction.

        Each claim sees the ones before it, so a second item of the batch with a first one's message
        key gets a key of its own (``ledger_keys``) as if the first had been committed alone.
        """
        claims: list[LedgerClaim] = []
        with self.store.ledger.batch() as batch:
            for envelope in envelopes:
                self._key(envelope, batch)
                s = envelope.subject
                claims.append(batch.claim(s.mailbox, s.message_key, owner=self.owner, item_id=s.item_id,
                                          internet_message_id=s.internet_message_id))
        return claims

    def _key(self, envelope: Envelope, ledger: LedgerReader) -> None:
        """Give a read envelope its ledger key (and the first item of its message key, if another)."""
        if envelope.keyed:
            return
        s = envelope.subject
        key, envelope.earlier = ledger_key(ledger, s.mailbox, s.message_key, s.item_id)
        envelope.subject = replace(s, message_key=key)
        envelope.keyed = True

    def process(self, envelope: Envelope, claim: LedgerClaim) -> Outcome | Offer:
        """Take a claimed message up to the CRM (an ``Offer``), or to a final decision before it."""
        if not claim.acquired:
            return Outcome("busy" if claim.outcome is ClaimOutcome.BUSY else "done")
        entry = claim.entry
        crashed = f"the worker died {entry.recoveries} times while processing this message"
        if entry.stage is LedgerStage.DELIVERED:
            if claim.outcome is ClaimOutcome.EXHAUSTED:
                return self._give_up_acknowledging(envelope, claim, crashed)
            return self._accepted(envelope, claim, entry.activity_id or "", "recovered")
        if claim.outcome is ClaimOutcome.EXHAUSTED:
            return self._quarantine(envelope, claim, Reason(Stage.PROCESS, "worker-crashed", crashed))
        return self._fresh(envelope, claim)

    # Steps --------------------------------------------------------------------------------------

    def _fresh(self, envelope: Envelope, claim: LedgerClaim) -> Outcome | Offer:
        if envelope.parsed is None:
            assert envelope.error is not None
            reason = Reason(Stage.PARSE, "unparseable", envelope.error.message)
            return self._quarantine(envelope, claim, reason)
        receiving = self.options.mailbox
        notes: list[Note] = []
        if envelope.unwrap is not None:
            found = self._forwarder(envelope, claim)
            if isinstance(found, Outcome):
                return found
            receiving, note = found
            notes.append(note)
        original = envelope.original
        assert original is not None
        return self._screen(envelope, claim, original, receiving, notes)

    def _forwarder(self, envelope: Envelope, claim: LedgerClaim) -> tuple[str, Note] | Outcome:
        """The CRM user a forwarded message belongs to, or the quarantine outcome when there is none."""
        unwrap = envelope.unwrap
        assert unwrap is not None and self.forward_users is not None
        if not unwrap.unwrapped:
            return self._quarantine(envelope, claim, Reason(Stage.UNWRAP, unwrap.outcome.value, unwrap.text))
        user = resolve_forwarder(unwrap, self.forward_users)
        if user is None:
            self.forward_users.forget()
            user = resolve_forwarder(unwrap, self.forward_users)
        if user is None:
            names = ", ".join(c.address for c in unwrap.candidates)
            return self._quarantine(envelope, claim, Reason(
                Stage.UNWRAP, "no-forward-mailbox-user",
                f"none of {names} is a CRM user whose e-mail comes through a forward mailbox; set that "
                "user's incoming delivery method to Forward Mailbox in the CRM, then retry"))
        return user.address, Note("unwrap", "unwrapped", text=f"forwarded by {user.address} "
                                                                f"({user.source.value})")

    def _screen(self, envelope: Envelope, claim: LedgerClaim, original: ParsedMessage, receiving: str,
                notes: list[Note]) -> Outcome | Offer:
        item_class = envelope.item.item_class or ITEM_CLASS_NOTE
        if envelope.unwrap is not None:
            item_class = ITEM_CLASS_NOTE  # The wrapper's class says nothing about the forwarded original.
        decision = screen(original, item_class, self.options.screening, breaker=self.breaker,
                          mailbox=receiving)
        if not decision.delivers:
            notes.append(Note("screen", "skipped", reason_code=decision.code, text=decision.text))
            return self._unaccepted(envelope, claim, notes, "screened", decision.code)
        notes.append(Note("screen", "accepted", reason_code=decision.code, text=decision.text))
        return self._size(envelope, claim, original, receiving, notes)

    def _size(self, envelope: Envelope, claim: LedgerClaim, original: ParsedMessage, receiving: str,
              notes: list[Note]) -> Outcome | Offer:
        sized = apply_size_policy(original, self.options.size)
        if sized.action is SizeAction.QUARANTINE:
            return self._quarantine(envelope, claim, Reason(Stage.SIZE, sized.reason.value, sized.text))
        notice = None
        if sized.reason is SizeReason.ATTACHMENTS_STRIPPED:
            notes.append(Note("size", "stripped", reason_code=sized.reason.value, text=sized.text))
            notice = (f"The e-mail router {sized.text[0].lower()}{sized.text[1:]}; the original is in "
                      "the mailbox.")
        email, unreadable = to_incoming_email(original, receiving_address=receiving,
                                              received_on=self._received(envelope), attachments=sized.kept,
                                              notice=notice)
        if unreadable:
            notes.append(Note("size", "attachments-unreadable", text=", ".join(unreadable)))
        changed = content_changes(original, fit_subject(original.subject)[1])
        if changed:
            notes.append(Note(CONTENT_STAGE, "changed", text=changed))
        return Offer(envelope, claim, email, notes)

    # The CRM's answer ---------------------------------------------------------------------------

    def offer_one(self, pending: Offer) -> Outcome:
        """Offer one message to the CRM on its own and conclude it."""
        return self.conclude(pending, offer(self.gateway, pending.email))

    def conclude(self, pending: Offer, answer: CrmOutcome, held: list[Delivery] | None = None) -> Outcome:
        """Record what the CRM made of an offered message (its answer from ``offer`` or a ``BatchOffer``).

        ``held``: a delivered message's record is added to it instead of written; the caller writes
        the batch's records in one transaction (``Decisions.delivered_all``).
        """
        envelope, claim, notes = pending.envelope, pending.claim, pending.notes
        if isinstance(answer, CrmRefusal):
            reason = Reason(Stage.DELIVER, answer.error.code or "crm-rejected",
                            f"the CRM rejected the message: {answer.error.message}")
            return self._quarantine(envelope, claim, reason)
        if isinstance(answer, Refused):
            code = _reason(answer.reason.name)
            notes.append(Note("deliver", "refused", reason_code=code,
                              text=refusal_text(answer.reason, original_of(envelope))))
            return self._unaccepted(envelope, claim, notes, "refused", code)
        return self._record(envelope, claim, answer, notes, held)

    def _record(self, envelope: Envelope, claim: LedgerClaim, answer: Delivered,
                notes: list[Note], held: list[Delivery] | None) -> Outcome:
        self.checkpoint(Step.CRM_DELIVERED)
        result = answer.result
        outcome, text = "delivered", _delivered_text(answer)
        if not result.created_new:
            outcome = held_result(claim)
            if outcome != "recovered" and held:
                # The first copy may be among the held records: the comparison reads it from the trail.
                self.decisions.delivered_all(held)
                held.clear()
            text = (recovered_text(claim, result.email_id) if outcome == "recovered" else
                    duplicate_text(self.store.trail, envelope.subject.internet_message_id or "",
                                   original_of(envelope), result.email_id, envelope.earlier)) + "; " + text
        notes.append(Note("deliver", outcome, reason_code=_reason(answer.check.name),
                          correlation_method=_reason(answer.correlation.name), activity_id=result.email_id,
                          text=text))
        notes.append(Note(CONTENT_STAGE, CONTENT_RESULT, activity_id=result.email_id,
                          text=fingerprint(original_of(envelope)).to_text()))
        record = Delivery(claim, envelope.subject, result.email_id, notes)
        if held is None:
            self.decisions.delivered_all([record])
        else:
            held.append(record)
        return self._accepted(envelope, claim, result.email_id, outcome)

    # Outcomes -----------------------------------------------------------------------------------

    def _accepted(self, envelope: Envelope, claim: LedgerClaim, activity_id: str, result: str) -> Outcome:
        return Outcome(result, envelope.subject, claim, AckKind.ACCEPTED, LedgerStage.ACKNOWLEDGED,
                       activity_id)

    def _unaccepted(self, envelope: Envelope, claim: LedgerClaim, notes: list[Note], result: str,
                    reason: str) -> Outcome:
        detail = f"{reason}: {notes[-1].text}"
        if self.options.ack.touch_unaccepted:
            self.decisions.note(envelope.subject, notes)
            return Outcome(result, envelope.subject, claim, AckKind.UNACCEPTED, LedgerStage.SCREENED,
                           reason=reason, detail=detail)
        self.decisions.screened(claim, envelope.subject, notes)
        return Outcome(result, envelope.subject, claim, reason=reason, detail=detail)

    def _give_up_acknowledging(self, envelope: Envelope, claim: LedgerClaim, why: str) -> Outcome:
        """The CRM holds the message but acknowledging it keeps killing the worker: stop trying."""
        note = Note("acknowledge", "given-up", activity_id=claim.entry.activity_id,
                    text=f"{why}; it is in the CRM, so it is left unacknowledged on the server")
        self.decisions.acknowledged([(claim, envelope.subject, note, None)])
        return Outcome("given-up", envelope.subject, claim, activity_id=claim.entry.activity_id)

    def _quarantine(self, envelope: Envelope, claim: LedgerClaim, reason: Reason) -> Outcome:
        quarantine(self.store, claim, envelope.subject, reason, envelope.item.mime)
        return Outcome("quarantined", envelope.subject, claim, AckKind.QUARANTINED, reason=reason.stage.value,
                       detail=f"{reason.code}: {reason.text}")

    def _received(self, envelope: Envelope) -> datetime:
        return envelope.item.received or self.clock.now()


def original_of(envelope: Envelope) -> ParsedMessage:
    """The parsed message the CRM was given (the forwarded original in a forward mailbox)."""
    original = envelope.original
    assert original is not None
    return original


def _reason(name: str) -> str:
    return name.lower().replace("_", "-")


def _delivered_text(answer: Delivered) -> str:
    result = answer.result
    parts = [f"activity {result.email_id} {'created' if result.created_new else 'already existed'}"]
    if result.regarding is not None:
        regarding = result.regarding
        parts.append(f"regarding {regarding.logical_name} {regarding.name or regarding.id}")
    if result.parent_email_id:
        parts.append(f"correlated with {result.parent_email_id}")
    if result.notifications:
        parts.append(f"CRM notice: {result.notifications.name.lower().replace('_', ' ')}")
    return "; ".join(parts)


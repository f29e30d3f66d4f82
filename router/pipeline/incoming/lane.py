"""One mailbox's incoming lane: the work the scheduler runs, one batch per run.

A run does, within its budget of ``batch_size`` messages:

1. **Recovery.** Ledger rows left unfinished (a crash, a deferral, an admin's quarantine retry) are
   re-fetched by item id, because SyncFolderItems will not report them again.
2. **New mail.** One SyncFolderItems page from the saved state; items received before the mailbox's
   process-from date are history and skipped; the rest are fetched with MIME in one GetItem. The
   process-from date is set the first time the lane sees the mailbox (the binding's ``process_from``,
   else that moment) and moved afterwards only by ``email-router backfill``.
3. Each batch is processed item by item (``process``) up to the CRM, offered to the CRM in one call
   (``deliver.BatchOffer``: one transaction of the embedded CRM), the answers concluded in order and
   the delivered ones recorded in one transaction, acknowledged on the server in batched calls
   (``acknowledge``), and finished in the ledger in one transaction. Only then is the sync state
   saved, so a crash anywhere re-reads the page and the ledger recognises what it has seen.

The run returns ``WorkResult(processed, waiting)``: ``waiting`` counts a further sync page and the
ledger rows beyond the budget, so the scheduler runs the lane again at once while a backlog remains.

One message's failure is a value: a failure only that message has is deferred with back-off and,
after ``max_item_attempts``, quarantined; the batch goes on. Errors about the mailbox or a whole
server (transient or not) release the claims in hand and are raised for the scheduler to handle.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import partial
from typing import TypeVar

from router.errors import (
    ClaimLostError,
    ConfigError,
    CrmError,
    PermanentTransportError,
    RouterError,
    StateStoreError,
    TransientTransportError,
    TransportError,
    VaultError,
)
from router.ews import ConnectionSpec
from router.graph.factory import GraphSpec
from router.pipeline.incoming.acknowledge import AckKind
from router.pipeline.incoming.checkpoints import Step
from router.pipeline.incoming.contract_session import ContractSession, LaneSession
from router.pipeline.incoming.decisions import Delivery, Note, Subject
from router.pipeline.incoming.deliver import BatchOffer
from router.pipeline.incoming.fates import count_fates, log_fates
from router.pipeline.incoming.fetch import Failing, Fetched, FetchedItem, Missing, Unreadable, fetch_resilient
from router.pipeline.incoming.finish import Finisher
from router.pipeline.incoming.graph_watch import watch_delta
from router.pipeline.incoming.lane_deps import LaneDeps
from router.pipeline.incoming.options import LaneOptions
from router.pipeline.incoming.process import Envelope, ItemProcessor, Offer, Outcome
from router.pipeline.incoming.quarantine import Reason, Stage, quarantine
from router.pipeline.incoming.session import MailboxSession
from router.pipeline.incoming.sync import ItemRef, sync_page
from router.pipeline.incoming.watch import Watch
from router.runtime.lane import LaneKey
from router.runtime.outcome import WorkContext, WorkResult
from router.state import LedgerClaim, LedgerEntry, LedgerStage, QuarantineStatus

log = logging.getLogger(__name__)
T = TypeVar("T")

SYNC_PAGE_FACTOR = 10
"""Changes read per SyncFolderItems page, in batches: a page of a mailbox's history (filtered out by
the process-from date) costs one request instead of ten, and the wanted items of a page are fetched
and processed in batches of ``batch_size``."""
DEFER_BASE = timedelta(minutes=1)
DEFER_MAX = timedelta(hours=1)
LANE_ERRORS: tuple[type[RouterError], ...] = (TransientTransportError, CrmError, ConfigError, VaultError,
                                              StateStoreError)
"""Errors about the mailbox, a server or the router itself: they end the run (claims released)."""


@dataclass
class Batch:
    """The items of one run step and what became of them."""

    outcomes: list[tuple[Envelope, Outcome]] = field(default_factory=list)
    retrying: dict[str, int] = field(default_factory=dict)

    @property
    def worked(self) -> int:
        return sum(1 for _, outcome in self.outcomes if outcome.worked)


class IncomingLane:
    """The ``LaneWork`` of one incoming mailbox; see the module docstring."""

    def __init__(self, key: LaneKey, options: LaneOptions, spec: ConnectionSpec | GraphSpec, deps: LaneDeps,
                 processor: ItemProcessor) -> None:
        self.key = key
        self.options = options
        self.spec = spec
        self.deps = deps
        self.processor = processor
        self._finisher = Finisher(options, deps, processor)
        self._session: LaneSession | None = None
        self._strikes: dict[str, int] = {}
        self._pinned = False
        """The process-from date is stored (it is read again whenever items are to be judged)."""

    # LaneWork ---------------------------------------------------------------------------------

    def __call__(self, context: WorkContext) -> WorkResult:
        """Run one batch (recovery first, then new mail)."""
        session = self._open()
        # Subscribed before the sync: mail that arrives afterwards raises an event, mail before is synced.
        self._watch(session)
        try:
            result = self._run(session, context)
        except TransportError as exc:
            if session.endpoint_failed(exc):
                self._session = None
            raise
        return replace(result, watched=self._watched(result))

    def close(self) -> None:
        """Stop the lane's notifications and give back any claim it still holds."""
        if self.deps.hub is not None:
            self.deps.hub.unwatch(self.key, owner=self)
        if self.deps.delta is not None:
            self.deps.delta.unwatch(self.key, owner=self)
        self.deps.store.ledger.abandon(self.processor.owner)

    # The run ----------------------------------------------------------------------------------

    def _open(self) -> LaneSession:
        if self._session is None:
            if isinstance(self.spec, GraphSpec):
                if self.deps.graphs is None:
                    raise ConfigError(f"mailbox {self.spec.mailbox} uses Microsoft Graph but this lane "
                                      "has no Graph clients", mailbox=self.spec.mailbox)
                self._session = ContractSession(self.deps.graphs.session(self.spec, self.options.folder))
            else:
                self._session = MailboxSession(self.deps.accounts, self.spec)
        return self._session

    def _run(self, session: LaneSession, context: WorkContext) -> WorkResult:
        budget = self.options.batch_size
        pending = self.deps.store.ledger.pending(self.options.mailbox)
        processed = self._recover(session, pending[:budget], context)
        waiting = max(0, len(pending) - budget)
        if context.cancelled or len(pending) >= budget:
            return WorkResult(processed, waiting + 1)
        page = sync_page(session, self.deps.store, self.options.folder, page_size(budget))
        refs = self._wanted(page.created)
        complete = True
        for start in range(0, len(refs), budget):
            chunk = refs[start:start + budget]
            fetched = fetch_resilient(session, [(r.item_id, r.changekey) for r in chunk])
            items = [f for f in (self._struck(f) for f in fetched) if f is not None]
            processed += self._batch(session, items, {}, context) if items else 0
            # An item that failed to fetch, or a cancelled batch, leaves items without a ledger row.
            failing = any(isinstance(f, Failing) and self._strikes.get(f.item_id) for f in fetched)
            complete = complete and not failing and not context.cancelled
            if context.cancelled:
                break
        if complete and page.moved:
            # Saved only when every wanted item of the page has a ledger row; else it is read again.
            self.deps.store.sync.save_state(self.options.mailbox, self.options.folder, page.state)
        # An item that failed to fetch is tried again at the lane's usual pace, not at once.
        result = WorkResult(processed, waiting + (1 if page.more or context.cancelled else 0))
        self.deps.metrics.set_backlog(self.options.mailbox, "incoming", result.waiting)
        return result

    def _struck(self, fetched: Fetched) -> FetchedItem | Unreadable | None:
        """Pass fetched items on; count a failing item's strikes, giving it up after ``max_attempts``."""
        if isinstance(fetched, Missing):
            return None
        if not isinstance(fetched, Failing):
            self._strikes.pop(fetched.item_id, None)
            return fetched
        strikes = self._strikes.get(fetched.item_id, 0) + 1
        if strikes < self.options.max_attempts:
            self._strikes[fetched.item_id] = strikes
            log.warning("fetching item %s of %s failed (%d of %d attempts): %s", fetched.item_id,
                        self.options.mailbox, strikes, self.options.max_attempts, fetched.error)
            return None
        self._strikes.pop(fetched.item_id, None)
        error = fetched.error
        return Unreadable(fetched.item_id, type(error)(
            f"fetching the item failed {strikes} times while other items could be fetched: {error.message}",
            code="fetch-failed", hint=error.hint, mailbox=error.mailbox, item_id=fetched.item_id))

    def _wanted(self, created: Sequence[ItemRef]) -> list[ItemRef]:
        """The created items received on or after the process-from date (the rest is history).

        Exchange keeps receive times to the second, so the date is compared to the second too: mail
        arriving in the very second a mailbox is first seen is imported, not lost.
        """
        if not created and self._pinned:
            return []  # Nothing to judge, and the date is pinned already: an idle sweep reads nothing.
        since = self._process_from().replace(microsecond=0)
        return [r for r in created if r.received is None or r.received >= since]

    def _process_from(self) -> datetime:
        store, mailbox = self.deps.store, self.options.mailbox
        found = store.sync.process_from(mailbox) or store.sync.ensure_process_from(
            mailbox, self.options.process_from)
        self._pinned = True
        return found

    def _recover(self, session: LaneSession, entries: Sequence[LedgerEntry], context: WorkContext) -> int:
        """Re-fetch unfinished ledger rows by item id and process them again."""
        if not entries:
            return 0
        with_ids = [e for e in entries if e.item_id]
        answers = fetch_resilient(session, [(e.item_id or "", None) for e in with_ids]) if with_ids else []
        fetched = {e.message_key: answer for e, answer in zip(with_ids, answers, strict=True)}
        items: list[FetchedItem | Unreadable] = []
        keys: dict[str, str] = {}
        retrying: dict[str, int] = {}
        for entry in entries:
            found = self._retry_entry(entry)
            if found is not None:
                retrying[entry.message_key] = found[0]
            answer = fetched.get(entry.message_key)
            if answer is None or isinstance(answer, Missing):
                item: FetchedItem | Unreadable | None = self._gone(entry, found)
            else:
                item = self._struck(answer)
            if item is not None:
                keys[item.item_id] = entry.message_key
                items.append(item)
        return len(entries) - len(items) + self._batch(session, items, retrying, context, keys)

    def _retry_entry(self, entry: LedgerEntry) -> tuple[int, bytes | None] | None:
        """The quarantine entry an admin asked to retry for this row: its id and kept MIME."""
        found = self.deps.store.quarantine.find(entry.mailbox, entry.message_key)
        if found is None or found.status is not QuarantineStatus.RETRY:
            return None
        return found.id, found.mime

    def _gone(self, entry: LedgerEntry, retry: tuple[int, bytes | None] | None) -> FetchedItem | None:
        """An unfinished message whose item left the server: process the kept copy, or finish it."""
        if retry is not None and retry[1] is not None and entry.stage is LedgerStage.CLAIMED:
            return FetchedItem(entry.item_id or "", None, retry[1], (), "", None, on_server=False)
        claim = self.deps.store.ledger.claim(entry.mailbox, entry.message_key, owner=self.processor.owner)
        if not claim.acquired:
            return None
        subject = Subject(entry.mailbox, entry.message_key, entry.internet_message_id, entry.item_id)
        text = "the item is no longer on the server (moved or deleted by someone)"
        decisions = self.processor.decisions
        if entry.stage is LedgerStage.DELIVERED:
            decisions.acknowledged([(claim, subject, Note("acknowledge", "gone", text=text), None)])
        else:
            note = Note("fetch", "gone", reason_code="gone-from-server", text=text)
            decisions.screened(claim, subject, [note])
        if retry is not None:
            self.deps.store.quarantine.resolve(retry[0], f"retried: {text}")
        return None

    # One batch --------------------------------------------------------------------------------

    def _batch(self, session: LaneSession, items: Sequence[FetchedItem | Unreadable],
               retrying: dict[str, int], context: WorkContext, keys: dict[str, str] | None = None) -> int:
        self.deps.checkpoint(Step.FETCHED)
        self.deps.metrics.fetched(self.options.mailbox, len(items))
        batch = Batch(retrying=retrying)
        held: list[LedgerClaim] = []
        try:
            processed = self._process(items, keys or {}, held, context)
            batch.outcomes.extend(self._offer(processed))
            self.deps.checkpoint(Step.RECORDED)
            self._finisher(session, batch.outcomes)
        except BaseException:
            self._release(held)
            raise
        self._resolve_retries(batch)
        self.deps.checkpoint(Step.FINISHED)
        self._count(batch, len(items))
        return batch.worked

    def _count(self, batch: Batch, fetched: int) -> None:
        """Report each item's fate to the metrics and the log; items a cancel left are deferred."""
        mailbox = self.options.mailbox
        count_fates(self.deps.metrics, mailbox, [(e.item.received, o) for e, o in batch.outcomes],
                    self.deps.clock.now())
        for _ in range(fetched - len(batch.outcomes)):
            self.deps.metrics.deferred(mailbox)
        log_fates(mailbox, [(e.subject.internet_message_id or e.subject.message_key, o)
                            for e, o in batch.outcomes])

    def _process(self, items: Sequence[FetchedItem | Unreadable], keys: dict[str, str],
                 held: list[LedgerClaim], context: WorkContext) -> list[tuple[Envelope, Outcome | Offer]]:
        """Process a batch's items up to the CRM; failures that concern only one item become values.

        Every item is parsed first (a cancel ends the batch between two items), then the parsed ones
        are claimed in one ledger transaction (``ItemProcessor.claim_all``), then each is taken on.
        """
        read: list[Envelope | Unreadable] = []
        for item in items:
            if context.cancelled:
                break
            read.append(item if isinstance(item, Unreadable) else
                        self.processor.read(item, keys.get(item.item_id)))
        envelopes = [e for e in read if isinstance(e, Envelope)]
        claims = self.processor.claim_all(envelopes) if envelopes else []
        held.extend(claim for claim in claims if claim.acquired)
        claimed = dict(zip(map(id, envelopes), claims, strict=True))
        processed: list[tuple[Envelope, Outcome | Offer]] = []
        for entry in read:
            if isinstance(entry, Unreadable):
                processed.append(self._unreadable(entry, keys.get(entry.item_id)))
                continue
            claim = claimed[id(entry)]
            step = partial(self.processor.process, entry, claim)
            processed.append((entry, self._guarded(entry, claim, step)))
        return processed

    def _offer(self, processed: Sequence[tuple[Envelope, Outcome | Offer]]) -> list[tuple[Envelope, Outcome]]:
        """Offer the batch's messages that reached the CRM step in one call; conclude each in order."""
        offers = [o for _, o in processed if isinstance(o, Offer)]
        concluded = iter(self._conclude(offers) if offers else [])
        return [(e, next(concluded) if isinstance(o, Offer) else o) for e, o in processed]

    def _conclude(self, offers: Sequence[Offer]) -> list[Outcome]:
        """The CRM's answers to ``offers``, recorded one after the other.

        An unexpected failure of the batch call (not a CRM error) offers them one at a time instead,
        so that it stays with the message that causes it.
        """
        try:
            answers = BatchOffer(self.processor.gateway, [o.email for o in offers])
        except LANE_ERRORS:
            raise
        except Exception:
            log.exception("offering %d messages of %s at once failed; offering them one at a time",
                          len(offers), self.options.mailbox)
            return [self._guarded(o.envelope, o.claim, partial(self.processor.offer_one, o)) for o in offers]
        held: list[Delivery] = []
        try:
            outcomes = [self._guarded(o.envelope, o.claim, partial(self._answered, o, answers, index, held))
                        for index, o in enumerate(offers)]
        except BaseException:
            self._record_held(held)  # The CRM holds them: record them before the error ends the run.
            raise
        self.processor.decisions.delivered_all(held)
        return outcomes

    def _answered(self, pending: Offer, answers: BatchOffer, index: int, held: list[Delivery]) -> Outcome:
        return self.processor.conclude(pending, answers.outcome(index), held)

    def _record_held(self, held: Sequence[Delivery]) -> None:
        try:
            self.processor.decisions.delivered_all(held)
        except RouterError as exc:  # Re-offered on the next run, they are then recovered from the CRM.
            log.warning("recording %d delivered messages of %s failed: %s", len(held), self.options.mailbox,
                        exc)

    def _guarded(self, envelope: Envelope, claim: LedgerClaim, step: Callable[[], T]) -> T | Outcome:
        """Run one message's ``step``; failures that concern only that message become its outcome."""
        try:
            return step()
        except LANE_ERRORS:
            raise
        except PermanentTransportError as exc:
            if exc.stops_mailbox:
                raise
            return self._defer(envelope, claim, exc)
        except ClaimLostError:
            return Outcome("taken-over", envelope.subject)
        except Exception as exc:  # One message must never stop the lane: defer it, then quarantine.
            log.exception("processing %s of %s failed", envelope.subject.message_key, self.options.mailbox)
            return self._defer(envelope, claim, exc)

    def _unreadable(self, item: Unreadable, known_key: str | None) -> tuple[Envelope, Outcome]:
        """Exchange cannot render the item: quarantine it (nothing to keep but its id)."""
        empty = FetchedItem(item.item_id, None, b"", (), "", None)
        envelope = self.processor.open(empty, known_key)
        claim = self.processor.claim(envelope)
        if not claim.acquired:
            return envelope, Outcome("busy")
        reason = Reason(Stage.FETCH, item.error.code or "unreadable", item.error.message)
        quarantine(self.deps.store, claim, envelope.subject, reason, None)
        return envelope, Outcome("quarantined", envelope.subject, claim, AckKind.QUARANTINED,
                                 reason=reason.stage.value)

    def _defer(self, envelope: Envelope, claim: LedgerClaim, error: BaseException) -> Outcome:
        """Release a message that failed on its own, or quarantine it after too many attempts."""
        text = f"{type(error).__name__}: {error}"
        attempts = claim.entry.attempts
        if attempts >= self.options.max_attempts:
            reason = Reason(Stage.PROCESS, "repeated-failure", f"failed {attempts} times; last: {text}")
            quarantine(self.deps.store, claim, envelope.subject, reason, envelope.item.mime)
            return Outcome("quarantined", envelope.subject, claim, AckKind.QUARANTINED,
                           reason=reason.stage.value)
        wait = min(DEFER_MAX, DEFER_BASE * 2 ** (attempts - 1))
        self.deps.store.ledger.release(claim, retry_at=self.deps.clock.now() + wait, error=text)
        self.processor.decisions.note(envelope.subject, [Note("process", "deferred", text=text)])
        return Outcome("deferred", envelope.subject, claim)

    def _resolve_retries(self, batch: Batch) -> None:
        """Close the quarantine entries of retried messages that now made it through."""
        for envelope, outcome in batch.outcomes:
            entry_id = batch.retrying.get(envelope.subject.message_key)
            if entry_id is not None and outcome.result not in ("quarantined", "deferred", "busy"):
                self.deps.store.quarantine.resolve(entry_id, f"processed again on request: {outcome.result}")

    def _release(self, held: Sequence[LedgerClaim]) -> None:
        for claim in held:
            try:
                self.deps.store.ledger.release(claim)
            except (ClaimLostError, StateStoreError):
                continue

    def _watch(self, session: LaneSession) -> None:
        """Keep the lane's notification subscription (made now, on the lane's session, if missing)."""
        if self.deps.hub is None or self.options.notification_streams == 0:
            return
        if not isinstance(self.spec, ConnectionSpec) or not isinstance(session, MailboxSession):
            return  # Graph: no webhook on-premises; the delta poller watches it after the run.
        watch = Watch(self.key, self.spec, self.options.folder, self.options.notification_minutes)
        self.deps.hub.watch(watch, self.options.notification_streams, owner=self, session=session)

    def _watched(self, result: WorkResult) -> bool:
        """True while a notification (EWS) or the delta poller (Graph) would wake the lane."""
        if isinstance(self.spec, GraphSpec):
            return watch_delta(self.key, self.spec, self.options, self.deps, self, result)
        return self.deps.hub is not None and self.deps.hub.streaming(self.key)


def page_size(batch_size: int) -> int:
    """The SyncFolderItems page size for a batch size (EWS allows 1 to 512 changes per call)."""
    return max(1, min(512, batch_size * SYNC_PAGE_FACTOR))

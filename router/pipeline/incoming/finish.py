"""Finishing a batch: acknowledge it on the server, then make its ledger rows final.

Runs once per batch, after every message of it was recorded (the CRM commit is in the ledger):
``acknowledge`` changes the items on the server in batched calls, then every acknowledged message's
ledger row becomes final in one transaction, with a trail row saying what was done (for a shared
logging mailbox, where the message is stored now). A message whose acknowledgement failed is
released to be acknowledged again later (never delivered again: its row says ``delivered``). A
message processed from its quarantined copy has no item left on the server and is finished at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from router.pipeline.incoming.acknowledge import AckKind, AckRequest, AckResult, acknowledge
from router.pipeline.incoming.checkpoints import Step
from router.pipeline.incoming.contract_session import LaneSession
from router.pipeline.incoming.decisions import Note, Subject
from router.pipeline.incoming.lane_deps import LaneDeps
from router.pipeline.incoming.logging_mailbox import storage_note
from router.pipeline.incoming.options import LaneOptions
from router.pipeline.incoming.process import Envelope, ItemProcessor, Outcome
from router.state import LedgerClaim, LedgerStage

RETRY_ACK_AFTER = timedelta(minutes=1)


class Finisher:
    """Acknowledges and finishes the batches of one lane."""

    def __init__(self, options: LaneOptions, deps: LaneDeps, processor: ItemProcessor) -> None:
        self.options = options
        self.deps = deps
        self.decisions = processor.decisions

    def __call__(self, session: LaneSession, outcomes: Sequence[tuple[Envelope, Outcome]]) -> None:
        """Acknowledge ``outcomes`` on the server, then finish their ledger rows."""
        todo = [(env, out) for env, out in outcomes if out.ack is not None and out.claim is not None]
        on_server = [(env, out) for env, out in todo if env.item.on_server]
        requests = [AckRequest(env.item.item_id, env.item.changekey, env.item.categories, out.ack)
                    for env, out in on_server if out.ack is not None]
        if requests:
            acknowledge(session, self.options.ack, self.options.quarantine_category, requests)
            self.deps.checkpoint(Step.ACKNOWLEDGED)
        done = [(out, req) for (_, out), req in zip(on_server, requests, strict=True)]
        absent = [(out, _absent(env)) for env, out in todo if not env.item.on_server]
        self._finish(session, done + absent)

    def _finish(self, session: LaneSession, done: Sequence[tuple[Outcome, AckRequest]]) -> None:
        acknowledged: list[tuple[LedgerClaim, Subject, Note, str | None]] = []
        for outcome, request in done:
            result = request.result
            if outcome.finish is None or outcome.claim is None or outcome.subject is None or result is None:
                continue
            if not result.done:
                self._retry_later(outcome, result.error)
                continue
            note = self._note(session, outcome, result)
            if outcome.finish is LedgerStage.SCREENED:
                self.decisions.screened(outcome.claim, outcome.subject, [note])
            else:
                acknowledged.append((outcome.claim, outcome.subject, note, result.new_item_id))
        self.decisions.acknowledged(acknowledged)

    def _note(self, session: LaneSession, outcome: Outcome, result: AckResult) -> Note:
        text = "; ".join(result.actions) or "nothing to change"
        if result.new_item_id and self.options.shared_logging:
            text += "; " + storage_note(session, result.new_item_id)
        return Note("acknowledge", "acknowledged", activity_id=outcome.activity_id, text=text)

    def _retry_later(self, outcome: Outcome, error: BaseException | None) -> None:
        assert outcome.claim is not None and outcome.subject is not None
        text = f"acknowledging failed: {error}"
        retry_at = self.deps.clock.now() + RETRY_ACK_AFTER
        self.deps.store.ledger.release(outcome.claim, retry_at=retry_at, error=text)
        self.decisions.note(outcome.subject, [Note("acknowledge", "deferred", text=text)])


def _absent(envelope: Envelope) -> AckRequest:
    """An acknowledgement that found nothing to do: the item is not on the server any more."""
    request = AckRequest(envelope.item.item_id, None, (), AckKind.ACCEPTED)
    request.result = AckResult(done=True, gone=True, actions=["processed from the quarantined copy; the "
                                                              "item is no longer on the server"])
    return request

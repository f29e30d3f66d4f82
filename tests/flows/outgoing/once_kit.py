"""What the outgoing exactly-once tests share, one instance or three: where a send is killed, what the
records and Exchange hold right after, and what "each email exactly once" means afterwards — counted
from the simulator's outbound journal (what left the organisation), not the router's records.
"""

from __future__ import annotations

from collections.abc import Sequence

from router.crm.codes import EmailStatus
from router.pipeline.outgoing.steps import Step
from router.state import SendStage, StateStore
from tests.flows.outgoing.world import BERT, OutgoingWorld

KILL_STEPS = [Step.CLAIMED, Step.RENDERED, Step.SUBMITTED, Step.SUBMISSION_RECORDED, Step.MARKED_SENT,
              Step.FINISHED]
"""Every step boundary of a send, in order (the kill comes the first time the first email reaches it)."""
LEFT_AT = {Step.CLAIMED: SendStage.CLAIMED, Step.RENDERED: SendStage.RENDERED,
           Step.SUBMITTED: SendStage.RENDERED, Step.SUBMISSION_RECORDED: SendStage.SUBMITTED,
           Step.MARKED_SENT: SendStage.SUBMITTED, Step.FINISHED: SendStage.RECORDED}
"""The send records' stage after a kill at each step of the first email: the two emails are one batch,
whose every state write covers both, so both records are there. At SUBMITTED the messages had left
while their records still say RENDERED, so only the Sent Items search can tell."""
REACHED_EXCHANGE = {Step.CLAIMED: 0, Step.RENDERED: 0, Step.SUBMITTED: 2, Step.SUBMISSION_RECORDED: 2,
                    Step.MARKED_SENT: 2, Step.FINISHED: 2}
"""Messages that had left at the kill: the batch submits all its emails before it records any
submission, and one request carries the batch (EWS: one CreateItem; Graph: one ``$batch`` of sendMail
steps), so a kill at the first email's SUBMITTED has sent all of them, as any later kill."""


def assert_left_at(world: OutgoingWorld, store: StateStore, ids: Sequence[str], step: Step) -> None:
    """What a kill at ``step`` left: messages in Exchange, the records' stage, the CRM's status."""
    assert len(world.journal()) == REACHED_EXCHANGE[step]
    left = [store.sends.by_email_id(email_id) for email_id in ids]
    assert [r.stage if r else None for r in left] == [LEFT_AT[step]] * len(ids)
    marked = step in (Step.MARKED_SENT, Step.FINISHED)
    assert [world.status(email_id) for email_id in ids] == [
        EmailStatus.SENT if marked else EmailStatus.SENDING] * len(ids)


def all_recorded(world: OutgoingWorld, store: StateStore, ids: Sequence[str]) -> bool:
    """True when every email is Sent in the CRM and its send record final."""
    records = [store.sends.by_email_id(email_id) for email_id in ids]
    return all(world.status(email_id) is EmailStatus.SENT for email_id in ids) and all(
        r is not None and r.stage is SendStage.RECORDED for r in records)


def assert_sent_once(world: OutgoingWorld, store: StateStore, ids: Sequence[str], sent_items: str) -> None:
    """Each email Sent in the CRM with the Message-ID that left, delivered once outside the organisation
    (the journal), once to Bert, one copy in ``sent_items``' Sent Items; its send record final."""
    rows = [world.row(email_id) for email_id in ids]
    assert [EmailStatus(row["statuscode"]) for row in rows] == [EmailStatus.SENT] * len(ids)
    for row in rows:
        assert len(world.journal(row["messageid"])) == 1, "delivered once outside the organisation"
        assert [m["Message-ID"] for m in world.inbox(BERT)].count(row["messageid"]) == 1
        assert [m["Message-ID"] for m in world.inbox(sent_items, "sentitems")].count(row["messageid"]) == 1
    assert len(world.journal()) == len(ids)
    records = [store.sends.by_email_id(email_id) for email_id in ids]
    assert [r.stage if r else None for r in records] == [SendStage.RECORDED] * len(ids)
    assert [r.message_id if r else None for r in records] == [row["messageid"] for row in rows]

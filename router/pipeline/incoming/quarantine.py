"""Setting a message aside: a quarantine entry, the final ledger step and a trail row, together.

A message that cannot be processed (MIME the parser rejects, a wrapper without a forwarded message,
too large under the quarantine size policy, refused by the CRM with an error, failing again and
again) is never retried by itself. Its raw MIME is kept in the entry, so it survives even if the
item is later deleted from the mailbox; ``email-router quarantine retry`` processes it again, from
the mailbox if the item is still there, else from the kept copy. The lane also tags the item on the
server with the quarantine category (see ``acknowledge``), so people see which mail the CRM lacks.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from router.pipeline.incoming.decisions import Subject
from router.state import Direction, LedgerClaim, StateStore


class Stage(StrEnum):
    """Where processing failed."""

    FETCH = "fetch"
    PARSE = "parse"
    UNWRAP = "unwrap"
    SIZE = "size"
    DELIVER = "deliver"
    PROCESS = "process"


@dataclass(frozen=True)
class Reason:
    """Why a message is quarantined: a stable code and a text an admin can act on."""

    stage: Stage
    code: str
    text: str


def quarantine(store: StateStore, claim: LedgerClaim, subject: Subject, reason: Reason,
               mime: bytes | None) -> int:
    """Quarantine the claimed message; returns the quarantine entry's id."""
    with store.db.write() as tx:
        entry = store.quarantine.add(
            mailbox=subject.mailbox, message_key=subject.message_key, stage=reason.stage.value,
            reason_code=reason.code, reason=reason.text, item_id=subject.item_id,
            internet_message_id=subject.internet_message_id, mime=mime, tx=tx)
        store.trail.record(direction=Direction.INCOMING, mailbox=subject.mailbox,
                           message_key=subject.message_key, internet_message_id=subject.internet_message_id,
                           item_id=subject.item_id, stage="quarantine", result="quarantined",
                           reason_code=reason.code, activity_id=claim.entry.activity_id,
                           text=f"at {reason.stage.value}: {reason.text} (quarantine entry {entry.id})",
                           tx=tx)
        store.ledger.mark_quarantined(claim, reason=f"{reason.code}: {reason.text}", tx=tx)
    return entry.id

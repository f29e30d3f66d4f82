"""What to call a message the CRM already held: ``recovered`` or a ``duplicate`` with the difference.

DeliverIncomingEmail is idempotent: for a Message-ID the CRM has seen it returns the existing
activity. That answer means one of two things, and the trail says which:

* **recovered** — this very item was being processed before (the ledger counts an earlier attempt or
  a crashed worker): the CRM created the activity just before the worker stopped, and recovery found
  it instead of creating another;
* **duplicate** — another item holds the message: a copy in another mailbox, or a second item in
  this one (a resend with another body, a copy with more Cc). The trail names the activity and how
  this item differs from the first copy whose content fingerprint it finds (``fingerprint``).
"""

from __future__ import annotations

from router.pipeline.incoming.fingerprint import CONTENT_STAGE, Fingerprint, difference, fingerprint
from router.pipeline.incoming.parse import ParsedMessage
from router.state import LedgerClaim, LedgerEntry
from router.state.trail import DecisionTrail


def held_result(claim: LedgerClaim) -> str:
    """``recovered`` when this item had an earlier attempt, else ``duplicate``."""
    entry = claim.entry
    return "recovered" if entry.recoveries > 0 or entry.attempts > 1 else "duplicate"


def recovered_text(claim: LedgerClaim, activity_id: str) -> str:
    """The trail text of a recovered delivery."""
    entry = claim.entry
    why = (f"the worker stopped {entry.recoveries} time(s)" if entry.recoveries
           else f"attempt {entry.attempts} after an earlier one did not finish")
    return (f"recovered: activity {activity_id} was created by an earlier attempt that was interrupted "
            f"before it was recorded ({why}); it was not created again")


def duplicate_text(trail: DecisionTrail, message_id: str, parsed: ParsedMessage, activity_id: str,
                   earlier: LedgerEntry | None) -> str:
    """The trail text of a duplicate: the activity, which copy came first, and what differs."""
    where = (f"item {earlier.item_id} of this mailbox came first" if earlier is not None
             else "the CRM already held this Message-ID")
    first = _first_fingerprint(trail, message_id)
    if first is None:
        differs = "the first copy's content was not recorded, so no comparison"
    else:
        differs = f"differs from the first copy: {difference(first, fingerprint(parsed))}"
    return f"duplicate of activity {activity_id} ({where}); {differs}"


def _first_fingerprint(trail: DecisionTrail, message_id: str) -> Fingerprint | None:
    for decision in trail.for_message_id(message_id):
        if decision.stage == CONTENT_STAGE:
            found = Fingerprint.from_text(decision.text)
            if found is not None:
                return found
    return None

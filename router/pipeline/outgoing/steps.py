"""The named steps of one email's send, and the checkpoint hook that is told when each is reached.

Each step has happened when the hook runs (in Exchange, the state store or the CRM), so a crash right
after any step is a crash the recovery path must handle; ``SUBMITTED`` is the hardest, a message that
left while nothing recorded it. The exactly-once tests do just that: they inject a hook that kills the
process at one step and run again.
Production code passes ``no_checkpoint``; nothing in the pipeline knows whether it is being tested.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum


class Step(StrEnum):
    """A point in one email's send, in order."""

    CLAIMED = "claimed"
    """The send record holds the email and our Message-ID; nothing was rendered or submitted yet."""
    RENDERED = "rendered"
    """The MIME is built and the record says so; submission comes next."""
    SUBMITTED = "submitted"
    """Exchange accepted the submission; nothing records it yet (the record still says RENDERED)."""
    SUBMISSION_RECORDED = "submission_recorded"
    """The send record says SUBMITTED; the CRM does not know yet."""
    MARKED_SENT = "marked_sent"
    """The CRM shows the email Sent; the send record is not final yet."""
    FINISHED = "finished"
    """The send record is final."""


Checkpoint = Callable[[Step, str], None]
"""Called with the step just reached and the CRM email id."""


def no_checkpoint(step: Step, email_id: str) -> None:
    """The production hook: nothing happens at a checkpoint."""
    del step, email_id

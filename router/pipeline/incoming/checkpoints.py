"""Named points between the incoming lane's committed steps, where an injected hook is called.

The lane calls its ``Checkpoint`` at each step boundary a crash could fall on. Production passes
none (``no_checkpoint``); the exactly-once tests pass a hook that kills the process at one of them,
then run the lane again and check that every message reached the CRM exactly once and was
acknowledged. Metrics or tracing could hook in here too.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum


class Step(StrEnum):
    """A boundary between two steps of processing a batch."""

    FETCHED = "fetched"
    """A batch was fetched from Exchange (MIME downloaded); nothing about it is recorded yet."""
    CRM_DELIVERED = "crm-delivered"
    """The CRM committed the activity; the decision trail and ledger do not know it yet."""
    RECORDED = "recorded"
    """The delivery is in the trail and the ledger; the server has not been acknowledged."""
    ACKNOWLEDGED = "acknowledged"
    """The batch was acknowledged on the server (category, read, move or delete; only reached when
    something was acknowledged); the ledger is not finished."""
    FINISHED = "finished"
    """The batch's ledger rows are final."""


Checkpoint = Callable[[Step], None]
"""Called with the step just completed; it may raise or even end the process."""


def no_checkpoint(step: Step) -> None:
    """The production checkpoint: nothing happens."""
    del step

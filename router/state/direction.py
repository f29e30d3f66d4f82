"""Which way a message travels through the router: shared by the decision trail and mailbox health."""

from __future__ import annotations

from enum import StrEnum


class Direction(StrEnum):
    """Incoming (Exchange to CRM) or outgoing (CRM to Exchange)."""

    INCOMING = "incoming"
    OUTGOING = "outgoing"

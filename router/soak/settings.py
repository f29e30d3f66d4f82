"""How hard the soak pushes: traffic, faults, kills, and how long the router gets to drain."""

from __future__ import annotations

from dataclasses import asdict, dataclass

FAULT_KINDS = ("server_busy", "http_500", "http_503", "slow", "drop")
"""Injected fault kinds; the fault rate is split evenly between them."""


@dataclass(frozen=True)
class SoakSettings:
    """The soak's knobs (see `scripts/soak --help`)."""

    inbound: int = 2000
    outbound: int = 1000
    mailboxes: int = 10
    feed_seconds: float = 60.0
    fault_rate: float = 0.05
    kill_min_seconds: float = 3.0
    kill_max_seconds: float = 8.0
    min_kills: int = 5
    drain_seconds: float = 480.0
    """Long enough for a send a kill left in flight: its 5-minute claim lease, then SendingStatusDelay."""
    read_timeout_seconds: float = 5.0
    seed: int = 1
    transport: str = "ews"
    """"ews", or "graph": every mailbox's profiles reach the simulator over Microsoft Graph (app-only
    OAuth as the service mailbox); the same faults then answer Graph's way (429 with Retry-After, 503,
    500, a dropped connection, a slow answer)."""
    instances: int = 1
    """Router instances; more than one share a PostgreSQL state database (see ``fleet``)."""
    lease_seconds: float = 10.0
    """The instances' lane lease (``lease_seconds``) when there are several."""
    db_outage_seconds: float = 0.0
    """With several instances: cut them off the database this long, halfway through the feed."""
    """The instances' lane lease (``lease_seconds``) when there are several."""
    sends_during_kills: bool = True
    """False puts outbound e-mail in Pending Send only after the last kill (faults still apply): a quick
    run then need not wait out the 5-minute claim lease a killed router leaves on sends in flight."""

    @property
    def slow_seconds(self) -> float:
        """How long a "slow" fault holds its answer: past the router's read timeout, so it times out."""
        return self.read_timeout_seconds + 1.0

    @property
    def rate_per_kind(self) -> float:
        return self.fault_rate / len(FAULT_KINDS)

    def as_json(self) -> dict[str, object]:
        return asdict(self)

"""What identifies a lane and what the scheduler needs to know about it.

A *lane* is one mailbox in one direction: ``alice@contoso.com`` incoming is one lane, its outgoing
another. The scheduler never runs two pieces of work in one lane at once, so everything a pipeline
does for a mailbox in a direction is naturally serialised. ``LaneSpec`` carries what scheduling needs
(the connection group and its limit, the Exchange server and CRM deployment whose throttling delays
the lane, the back-off policy, and a fingerprint that changes when the lane's configuration does); it
knows nothing of the pipelines, which plug in through ``LaneWork`` callables (see ``outcome``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from router.config.profile import Direction
from router.runtime.policy import SchedulePolicy


@dataclass(frozen=True, order=True)
class LaneKey:
    """One mailbox in one direction; the address is compared case-insensitively."""

    mailbox: str
    direction: Direction

    def __post_init__(self) -> None:
        object.__setattr__(self, "mailbox", self.mailbox.strip().lower())
        object.__setattr__(self, "direction", Direction(self.direction))

    def __str__(self) -> str:
        return f"{self.mailbox}/{self.direction.value}"


@dataclass(frozen=True)
class LaneSpec:
    """How to schedule one lane.

    ``connection_group`` is the profile whose ``max_connections`` (``group_limit``) caps how many of
    its lanes work at once. ``server`` is the Exchange host and ``crm`` the CRM deployment: a
    server's or CRM's request to back off (an error with ``back_off``) delays every lane sharing it.
    ``fingerprint`` summarises the lane's configuration: when a new configuration gives a lane a new
    fingerprint, its work is rebuilt and a stopped lane starts again.
    """

    key: LaneKey
    connection_group: str
    group_limit: int
    server: str
    crm: str
    fingerprint: str = field(repr=False)
    policy: SchedulePolicy = field(default_factory=SchedulePolicy)

    def __post_init__(self) -> None:
        if self.group_limit < 1:
            raise ValueError(f"lane {self.key}: group_limit must be at least 1, not {self.group_limit}")

    @cached_property
    def order(self) -> tuple[str, str]:
        """The lane's place among lanes due at the same moment (plain strings: cheap to compare)."""
        return self.key.mailbox, self.key.direction.value

    @cached_property
    def server_scope(self) -> str:
        """The throttling scope of the lane's Exchange server."""
        return f"ews:{self.server.lower()}"

    @cached_property
    def crm_scope(self) -> str:
        """The throttling scope of the lane's CRM deployment."""
        return f"crm:{self.crm}"

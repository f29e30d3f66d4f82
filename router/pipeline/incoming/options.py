"""What one incoming lane needs to know, resolved once from the published configuration.

``lane_options(config, assignment)`` reads the profile, deployment, binding and settings and returns
an immutable ``LaneOptions``: which folder is watched, how many items a run takes, the screening,
size and rate policies, and the acknowledgement plan. Everything that can be wrong in them is a
``ConfigError`` naming the mailbox, raised when the lane is built, never halfway through a batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from router.config import Direction, MailboxAssignment, MailboxRole
from router.config.incoming import Acknowledgement, IncomingSettings, OversizeAction, PrecedenceHandling
from router.config.published import PublishedConfig
from router.errors import ConfigError
from router.pipeline.incoming.acknowledge import AckPlan
from router.pipeline.incoming.logging_mailbox import storage_plan
from router.pipeline.incoming.rate_breaker import RateLimit
from router.pipeline.incoming.screening import ScreeningPolicy
from router.pipeline.incoming.size_policy import SizeMode, SizePolicy
from router.runtime.connections import profile_for
from router.runtime.crm_factory import deployment_of

INBOX = "Inbox"


@dataclass(frozen=True)
class LaneOptions:
    """Everything an incoming lane reads from its configuration."""

    mailbox: str
    role: MailboxRole
    deployment: str
    folder: str
    batch_size: int
    process_from: datetime | None
    screening: ScreeningPolicy
    size: SizePolicy
    rate: RateLimit
    ack: AckPlan
    quarantine_category: str
    max_attempts: int
    shared_logging: bool
    notification_streams: int
    notification_minutes: int
    graph_poll_seconds: float = 30.0

    @property
    def forward(self) -> bool:
        """True for a forward mailbox: each item wraps a message some CRM user's rule forwarded."""
        return self.role is MailboxRole.FORWARD


def lane_options(config: PublishedConfig, assignment: MailboxAssignment) -> LaneOptions:
    """Resolve ``assignment``'s incoming options from ``config``; ConfigError if they are unusable."""
    profile = profile_for(config, assignment, Direction.INCOMING)
    deployment = deployment_of(config, assignment.deployment)
    settings = config.profiles.settings
    incoming = settings.incoming
    logging_mailbox = assignment.shared_logging
    try:
        screening = ScreeningPolicy(deployment.loop_name(assignment.deployment),
                                    deliver_out_of_office=incoming.deliver_out_of_office,
                                    precedence_screens=incoming.precedence is PrecedenceHandling.SCREEN)
    except ConfigError as exc:
        raise ConfigError(exc.message, hint=exc.hint, mailbox=assignment.address) from exc
    return LaneOptions(
        mailbox=assignment.address.lower(), role=assignment.role, deployment=assignment.deployment,
        folder=logging_mailbox.queue_folder if logging_mailbox else INBOX,
        batch_size=max(settings.ews_retrieve_message_count, 1),
        process_from=assignment.process_from, screening=screening, size=_size_policy(incoming),
        rate=RateLimit(incoming.sender_rate_limit, incoming.sender_rate_window_seconds),
        ack=ack_plan(assignment, assignment.acknowledge or profile.acknowledge),
        quarantine_category=incoming.quarantine_category, max_attempts=incoming.max_item_attempts,
        shared_logging=logging_mailbox is not None, notification_streams=incoming.notification_streams,
        notification_minutes=incoming.notification_minutes, graph_poll_seconds=incoming.graph_poll_seconds)


def ack_plan(assignment: MailboxAssignment, ack: Acknowledgement) -> AckPlan:
    """The acknowledgement of ``assignment``: its role's rule, else its (profile's) ``acknowledge``."""
    service_mailbox = assignment.role is MailboxRole.FORWARD or assignment.shared_logging is not None
    if assignment.role is MailboxRole.FORWARD and assignment.delete_after_processing:
        return AckPlan(delete=True, touch_unaccepted=True)
    if assignment.shared_logging is not None:
        return storage_plan(assignment.shared_logging, ack)
    return AckPlan(category=None if ack.delete else ack.category, mark_read=ack.mark_read,
                   move_to=ack.move_to, delete=ack.delete, touch_unaccepted=service_mailbox)


def _size_policy(incoming: IncomingSettings) -> SizePolicy:
    mode = SizeMode.QUARANTINE if incoming.oversize_action is OversizeAction.QUARANTINE else SizeMode.STRIP
    return SizePolicy(incoming.max_message_bytes, incoming.max_attachment_bytes, mode)

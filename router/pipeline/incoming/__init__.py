"""The incoming pipeline's pure steps: parse, unwrap, screen, rate-limit, size policy.

Everything here takes values and returns values; nothing talks to Exchange or the CRM. The
orchestration (fetch, ledger claim, deliver, acknowledge) calls, per item::

    parsed = parse_message(mime)                      # MessageError -> quarantine
    if forward mailbox:
        unwrapped = unwrap_forward(parsed)            # not .unwrapped -> quarantine with .text
        parsed = unwrapped.original
        user = resolve_forwarder(unwrapped, is_forward_user)
    decision = screen(parsed, item_class, policy, breaker=breaker, mailbox=mailbox)
    if decision.delivers:
        sized = apply_size_policy(parsed, size_policy)  # QUARANTINE or DELIVER with .kept

The lane that does all of that against Exchange and the CRM lives in modules imported by name (this
package itself stays free of I/O)::

    lanes.IncomingLanes(resources, wake=, checkpoint=, notifications=)   the lane-work factory
        .build(assignment, direction, config) -> lane.IncomingLane        (.install(registry, resources))
    lane.IncomingLane(context) -> WorkResult(processed, waiting); .close()
    options.lane_options(config, assignment) -> LaneOptions               folder, policies, AckPlan
    session.MailboxSession · sync.sync_page · fetch.fetch_resilient        Exchange side
    process.ItemProcessor (claim, screen, size, deliver, record) · deliver.offer / to_incoming_email
    finish.Finisher · acknowledge.acknowledge(AckPlan) · quarantine.quarantine · decisions.Decisions
    forward.ForwardUsers · logging_mailbox · notifications.NotificationHub · checkpoints.Step
    drain.drain_mailbox(lanes, config, mailbox) / drain_home(home, mailbox) -> DrainReport
    backfill.schedule_backfill · rules_deploy.deploy_rules
"""

from router.pipeline.headers import LOOP_HEADER
from router.pipeline.incoming.addresses import Mailbox
from router.pipeline.incoming.attachments import Attachment
from router.pipeline.incoming.defects import ParseDefect
from router.pipeline.incoming.forward_unwrap import (
    CandidateSource,
    ForwardCandidate,
    UnwrapOutcome,
    UnwrapResult,
    resolve_forwarder,
    unwrap_forward,
)
from router.pipeline.incoming.header_text import HeaderView
from router.pipeline.incoming.message_ids import MessageKey
from router.pipeline.incoming.parse import Importance, ParsedMessage, parse_message
from router.pipeline.incoming.rate_breaker import RateBreaker, RateLimit
from router.pipeline.incoming.screen_decision import ScreenDecision, SkipReason, Verdict
from router.pipeline.incoming.screening import (
    ITEM_CLASS_NOTE,
    ITEM_CLASS_OUT_OF_OFFICE,
    ScreeningPolicy,
    loop_header_value,
    screen,
)
from router.pipeline.incoming.size_policy import (
    SizeAction,
    SizeDecision,
    SizeMode,
    SizePolicy,
    SizeReason,
    apply_size_policy,
)

__all__ = [
    "ITEM_CLASS_NOTE",
    "ITEM_CLASS_OUT_OF_OFFICE",
    "LOOP_HEADER",
    "Attachment",
    "CandidateSource",
    "ForwardCandidate",
    "HeaderView",
    "Importance",
    "Mailbox",
    "MessageKey",
    "ParseDefect",
    "ParsedMessage",
    "RateBreaker",
    "RateLimit",
    "ScreenDecision",
    "ScreeningPolicy",
    "SizeAction",
    "SizeDecision",
    "SizeMode",
    "SizePolicy",
    "SizeReason",
    "SkipReason",
    "UnwrapOutcome",
    "UnwrapResult",
    "Verdict",
    "apply_size_policy",
    "loop_header_value",
    "parse_message",
    "resolve_forwarder",
    "screen",
    "unwrap_forward",
]

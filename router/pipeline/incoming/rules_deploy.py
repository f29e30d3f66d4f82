"""The Rule Deployment Wizard: an inbox rule in each forward-mailbox user's mailbox, idempotently.

In forward mailbox mode (``legacy-email-router.md`` §1.6, §3.6) every CRM user whose incoming
delivery method is "Forward Mailbox" needs a server-side inbox rule that forwards each message *as an
attachment* to the forward mailbox of the user's deployment. ``deploy_rules`` creates that rule
through EWS (UpdateInboxRules) where it is missing, enables it where an admin or user disabled it,
and leaves it alone where it is in place, so running it again changes nothing.

The users are read from the CRM (Load Data). A user's mailbox is opened with the user's own binding
when the user is also bound in the configuration, else with the forward mailbox's incoming profile
(a service account with impersonation or Full Access on users' mailboxes, as the legacy wizard
required).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from exchangelib.properties import Actions, Address, Rule

from router.config import Direction, MailboxAssignment, MailboxRole
from router.config.profile import CredentialSource
from router.config.published import PublishedConfig
from router.crm.codes import IncomingDeliveryMethod
from router.crm.gateway import CrmGateway
from router.errors import ConfigError, RouterError, UsageError
from router.ews import AccountFactory, ews_errors
from router.runtime.connections import connection_spec, profile_for

RULE_NAME = "Forward to Dynamics 365 (E-mail Router)"
"""The display name of rules the router creates."""


class RuleAction(StrEnum):
    """What deploying did in one mailbox."""

    CREATED = "created"
    ENABLED = "enabled"
    UNCHANGED = "unchanged"
    FAILED = "failed"


@dataclass(frozen=True)
class RuleResult:
    """The outcome for one user: the forward mailbox, what was done, and a detail for the admin."""

    user: str
    forward_mailbox: str
    action: RuleAction
    detail: str


def forward_targets(config: PublishedConfig, forward_mailbox: str | None) -> dict[str, MailboxAssignment]:
    """The forward mailbox of each deployment that has one (``forward_mailbox`` narrows to one)."""
    forwards = [a for a in config.profiles.mailboxes()
                if a.role is MailboxRole.FORWARD and a.incoming_profile is not None]
    if forward_mailbox is not None:
        forwards = [a for a in forwards if a.address.lower() == forward_mailbox.lower()]
        if not forwards:
            raise UsageError(f"{forward_mailbox} is not a forward mailbox of published version "
                             f"{config.version}",
                             hint="name one of the [[forward_mailboxes]] of the configuration")
    by_deployment: dict[str, MailboxAssignment] = {}
    for assignment in forwards:
        other = by_deployment.setdefault(assignment.deployment, assignment)
        if other is not assignment:
            raise UsageError(f"deployment {assignment.deployment} has several forward mailboxes "
                             f"({other.address}, {assignment.address})",
                             hint="choose one with --forward-mailbox")
    if not by_deployment:
        raise ConfigError(f"published version {config.version} has no forward mailbox",
                          hint="add a [[forward_mailboxes]] entry and publish first")
    return by_deployment


def forward_users(gateway: CrmGateway) -> list[str]:
    """The addresses of CRM users (and queues) whose incoming mail comes through a forward mailbox."""
    return sorted({m.address.lower() for m in gateway.load_data()
                   if m.incoming_method is IncomingDeliveryMethod.FORWARD_MAILBOX})


def deploy_rules(config: PublishedConfig, accounts: AccountFactory, gateways: Callable[[str], CrmGateway], *,
                 mailbox: str | None = None, forward_mailbox: str | None = None) -> list[RuleResult]:
    """Deploy the forwarding rule for every forward-mailbox user (or only ``mailbox``)."""
    results: list[RuleResult] = []
    for deployment, target in sorted(forward_targets(config, forward_mailbox).items()):
        users = forward_users(gateways(deployment))
        if mailbox is not None:
            if mailbox.lower() not in users:
                raise UsageError(f"{mailbox} is not a CRM user whose mail comes through a forward mailbox "
                                 f"in deployment {deployment}",
                                 hint="set the user's incoming e-mail delivery method to Forward Mailbox "
                                      "in the CRM, then deploy again")
            users = [mailbox.lower()]
        results += [_deploy_one(config, accounts, target, user) for user in users]
    return results


def _deploy_one(config: PublishedConfig, accounts: AccountFactory, target: MailboxAssignment,
                user: str) -> RuleResult:
    try:
        account = accounts.account(connection_spec(config, _assignment_for(config, target, user),
                                                   Direction.INCOMING))
        with ews_errors(mailbox=user):
            action, detail = _ensure_rule(account, target.address)
    except RouterError as exc:
        return RuleResult(user, target.address, RuleAction.FAILED, exc.message + (f" ({exc.hint})" if exc.hint
                                                                                 else ""))
    return RuleResult(user, target.address, action, detail)


def _assignment_for(config: PublishedConfig, target: MailboxAssignment, user: str) -> MailboxAssignment:
    """How to open ``user``'s mailbox: its own incoming binding, else the forward mailbox's profile."""
    own = next((a for a in config.profiles.mailboxes()
                if a.address.lower() == user and a.incoming_profile is not None), None)
    if own is not None:
        return own
    if profile_for(config, target, Direction.INCOMING).credentials is CredentialSource.USER_SPECIFIED:
        raise ConfigError(f"the forward mailbox {target.address} signs in with its own credential, which "
                          f"cannot open {user}'s mailbox", mailbox=user,
                          hint="give the forward mailbox a profile with a service account (impersonation or "
                               "Full Access), or bind the user with its own credential")
    return dataclasses.replace(target, address=user, role=MailboxRole.USER)


def _ensure_rule(account: object, forward_to: str) -> tuple[RuleAction, str]:
    """Create or enable the forwarding rule in ``account``'s mailbox; report what was done."""
    rules = list(account.rules)  # type: ignore[attr-defined]
    existing = next((r for r in rules if _forwards_to(r, forward_to)), None)
    if existing is None:
        rule = Rule(display_name=RULE_NAME, priority=1, is_enabled=True,
                    actions=Actions(forward_as_attachment_to_recipients=[Address(email_address=forward_to)]))
        account.create_rule(rule)  # type: ignore[attr-defined]
        return RuleAction.CREATED, f"every message is forwarded as an attachment to {forward_to}"
    if existing.is_enabled is False:
        existing.is_enabled = True
        account.set_rule(existing)  # type: ignore[attr-defined]
        return RuleAction.ENABLED, f"rule {existing.display_name!r} was disabled; it is enabled again"
    return RuleAction.UNCHANGED, f"rule {existing.display_name!r} already forwards to {forward_to}"


def _forwards_to(rule: Rule, address: str) -> bool:
    actions = rule.actions
    targets = (actions.forward_as_attachment_to_recipients or []) if actions is not None else []
    return any((t.email_address or "").lower() == address.lower() for t in targets)

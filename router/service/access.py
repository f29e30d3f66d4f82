"""Test Access, one mailbox direction at a time: can the router reach it as its published profile says?

The legacy Configuration Manager's Test Access and server-side sync's Test & Enable check, per mailbox:

* **incoming**: connect to Exchange, authenticate, and open the Inbox through the incoming profile's
  connection (``connection_spec`` + ``AccountFactory``);
* **outgoing**: which right the outgoing profile's account really holds on the user — Send As, Send On
  Behalf or none — found by a ``SendRightDetector``, and whether it is the right the profile's access
  type expects (``expected_right``). None is a failure; another right than expected is a failure too,
  because mail would not go out the way the admin configured (from the user alone, or "on behalf of").

Each check returns a ``Check`` (outcomes are values); a failure carries the router error's message and
hint, which say what to fix.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from router.config.profile import AccessType, Direction, Profile, UserType
from router.config.profileset import MailboxAssignment
from router.config.published import PublishedConfig
from router.crm.codes import MailboxTestStatus
from router.errors import RouterError
from router.ews.connection import AccountFactory
from router.ews.errors import ews_errors
from router.service.connections import connection_spec, profile_for


class SendRight(StrEnum):
    """The right an account holds to send From a mailbox."""

    SEND_AS = "send_as"
    SEND_ON_BEHALF = "send_on_behalf"
    NONE = "none"

    @property
    def label(self) -> str:
        """How admins name it: "Send As", "Send On Behalf", "none"."""
        return {"send_as": "Send As", "send_on_behalf": "Send On Behalf", "none": "none"}[self.value]


class SendRightDetector(Protocol):
    """Finds the right ``account`` (opened on ``mailbox`` by the outgoing profile) holds on ``mailbox``.

    Raises a router error when the mailbox cannot be reached at all (authentication, access, missing).
    """

    def __call__(self, account: Any, mailbox: str) -> SendRight:
        """Return the right."""
        ...


def expected_right(profile: Profile) -> SendRight:
    """The right an outgoing profile needs: Send On Behalf for delegate access, else Send As.

    A User profile signs in as the mailbox's owner and impersonation acts as the user: both send as
    the user, as a Send As profile does.
    """
    if profile.user_type is UserType.ADMINISTRATOR and profile.access_type is AccessType.DELEGATE:
        return SendRight.SEND_ON_BEHALF
    return SendRight.SEND_AS


@dataclass(frozen=True)
class Check:
    """One direction's Test Access result, worded as the legacy tool did ("Success - ...")."""

    status: MailboxTestStatus
    message: str
    hint: str = ""
    right: SendRight | None = None
    expected: SendRight | None = None

    @property
    def failed(self) -> bool:
        """True for a Failure (Not Run is not a failure)."""
        return self.status is MailboxTestStatus.FAILURE

    @classmethod
    def not_run(cls, reason: str) -> Check:
        """A direction that was not tested, and why."""
        return cls(MailboxTestStatus.NOT_RUN, f"not tested: {reason}")

    @classmethod
    def failure(cls, error: RouterError, **extra: Any) -> Check:
        """A direction that failed with ``error``."""
        return cls(MailboxTestStatus.FAILURE, error.message, error.hint, **extra)


class AccessChecker:
    """Runs the incoming and outgoing checks of mailboxes of one published configuration."""

    def __init__(self, config: PublishedConfig, accounts: AccountFactory) -> None:
        self._config = config
        self._accounts = accounts

    def incoming(self, assignment: MailboxAssignment) -> Check:
        """Connect, authenticate and open the Inbox with the incoming profile."""
        try:
            spec = connection_spec(self._config, assignment, Direction.INCOMING)
            account = self._accounts.account(spec)
            with ews_errors(mailbox=assignment.address):
                items = account.inbox.total_count
        except RouterError as exc:
            return Check.failure(exc)
        where = spec.ews_url or "the Autodiscover endpoint"
        return Check(MailboxTestStatus.SUCCESS,
                     f"connected to {where}, signed in and opened the Inbox ({items} item(s))")

    def outgoing(self, assignment: MailboxAssignment, detect: SendRightDetector) -> Check:
        """Find the outgoing account's right on the mailbox and compare it with the profile's."""
        try:
            profile = profile_for(self._config, assignment, Direction.OUTGOING)
            expected = expected_right(profile)
            account = self._accounts.account(connection_spec(self._config, assignment, Direction.OUTGOING))
            right = detect(account, assignment.address)
        except RouterError as exc:
            return Check.failure(exc)
        return judge(assignment, profile, assignment.outgoing_profile or "", right, expected)


def judge(assignment: MailboxAssignment, profile: Profile, name: str, right: SendRight,
          expected: SendRight) -> Check:
    """The outgoing check's verdict on the right found against the right the profile needs."""
    address = assignment.address
    if right is SendRight.NONE:
        return Check(MailboxTestStatus.FAILURE,
                     f"the account of profile {name!r} holds neither Send As nor Send On Behalf on {address}",
                     f"grant it {expected.label} on {address} (Exchange), then run `email-router "
                     "test-access` again", right, expected)
    if right is not expected:
        effect = ("from the user alone, not \"on behalf of\"" if right is SendRight.SEND_AS
                  else "\"on behalf of\" the user, not from the user alone")
        access = "send_as" if right is SendRight.SEND_AS else "delegate"
        return Check(MailboxTestStatus.FAILURE,
                     f"the account holds {right.label} on {address}, but profile {name!r} "
                     f"({_access(profile)}) expects {expected.label}: mail would go out {effect}",
                     f"grant {expected.label} instead, or set access_type = \"{access}\" on profile "
                     f"{name!r} and publish", right, expected)
    return Check(MailboxTestStatus.SUCCESS, f"the account holds {right.label} on {address}, as profile "
                 f"{name!r} expects", "", right, expected)


def _access(profile: Profile) -> str:
    if profile.user_type is UserType.USER:
        return "the mailbox's own account"
    return f"access_type = {profile.access_type.value if profile.access_type else 'unset'}"

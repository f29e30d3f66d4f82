"""Test Access, one mailbox direction at a time: can the router reach it as its published profile says?

The legacy Configuration Manager's Test Access and server-side sync's Test & Enable check, per mailbox:

* **incoming**: connect to Exchange, authenticate, and open the Inbox through the incoming profile's
  connection (``connection_spec`` + ``AccountFactory``);
* **outgoing**: open the mailbox's Sent Items through the outgoing profile's connection (the router
  submits through the user's mailbox and saves the copy there), then, when the profile relies on a send
  right (an Administrator with ``send_as`` or ``delegate``), find which right the account really holds
  on the user — Send As, Send On Behalf or none — with the outgoing pipeline's ``detect_send_right``, and
  compare it with the profile (``send_right.mismatch``). None, or another right than the profile names,
  is a failure: mail would fail, or not go out the way the admin configured. A User profile (the
  owner's own account) and impersonation send as the user and need no send right.

Over Microsoft Graph the same checks: a token for the app and the Inbox (incoming), the sending
mailbox's Sent Items (outgoing) and, when the profile sends from a ``service_mailbox``, the right
Exchange really gives it on the user, found by a probe through Graph (``router.graph.send_right``).

Each check returns a ``Check`` (outcomes are values); a failure carries the router error's message and
hint, or the mismatch, which say what to fix.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from router.clock import Clock
from router.config.profile import Direction, Profile, UserType
from router.config.profileset import MailboxAssignment
from router.config.published import PublishedConfig
from router.crm.codes import MailboxTestStatus
from router.errors import ConfigError, RouterError
from router.ews.connection import AccountFactory
from router.ews.errors import ews_errors
from router.graph.factory import GraphFactory
from router.graph.mailbox import GraphMailbox
from router.graph.send_right import NONE, SEND_AS, SEND_ON_BEHALF, UNKNOWN
from router.graph.send_right import detect_send_right as graph_right
from router.pipeline.outgoing.send_right import (
    DEFAULT_WAIT_SECONDS,
    SendRight,
    SendRightProbe,
    detect_send_right,
    expected_right,
    mismatch,
    own_mailbox_spec,
)
from router.runtime.connections import connection_spec, profile_for
from router.runtime.graph_connections import graph_spec, is_graph

LABELS = {SendRight.SEND_AS: "Send As", SendRight.SEND_ON_BEHALF: "Send On Behalf", SendRight.NONE: "none",
          SendRight.UNKNOWN: "unknown"}


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

    def __init__(self, config: PublishedConfig, accounts: AccountFactory, clock: Clock, *,
                 wait_seconds: float = DEFAULT_WAIT_SECONDS, graphs: GraphFactory | None = None) -> None:
        self._config = config
        self._accounts = accounts
        self._clock = clock
        self._wait = wait_seconds
        self._graph_factory = graphs

    def incoming(self, assignment: MailboxAssignment) -> Check:
        """Connect, authenticate and open the Inbox with the incoming profile."""
        if is_graph(self._config, assignment, Direction.INCOMING):
            return self._graph_incoming(assignment)
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

    def outgoing(self, assignment: MailboxAssignment) -> Check:
        """Open the mailbox's Sent Items with the outgoing profile, then check the send right it needs."""
        name = assignment.outgoing_profile or ""
        if is_graph(self._config, assignment, Direction.OUTGOING):
            return self._graph_outgoing(assignment)
        try:
            profile = profile_for(self._config, assignment, Direction.OUTGOING)
            spec = connection_spec(self._config, assignment, Direction.OUTGOING)
            account = self._accounts.account(spec)
            with ews_errors(mailbox=assignment.address):
                account.sent.refresh()
            expected = expected_right(profile)
            if expected is None:
                return Check(MailboxTestStatus.SUCCESS, "signed in and opened the Sent Items; profile "
                             f"{name!r} {_sends_as(profile)}, so no send right is needed")
            probe = detect_send_right(self._accounts, own_mailbox_spec(spec), assignment.address,
                                      clock=self._clock, wait_seconds=self._wait)
        except RouterError as exc:
            return Check.failure(exc)
        problem = mismatch(profile, probe)
        if problem is not None:
            return Check(MailboxTestStatus.FAILURE, problem, right=probe.right, expected=expected)
        return Check(MailboxTestStatus.SUCCESS, f"the account holds {LABELS[probe.right]} on "
                     f"{assignment.address}, as profile {name!r} expects ({probe.detail})",
                     right=probe.right, expected=expected)


    # Microsoft Graph ------------------------------------------------------------------------------

    @property
    def _graphs(self) -> GraphFactory:
        if self._graph_factory is None:
            raise ConfigError("this Test Access run has no Graph clients for a transport = \"graph\" profile",
                              hint="pass the service's Resources.graphs to AccessChecker")
        return self._graph_factory

    def _graph_incoming(self, assignment: MailboxAssignment) -> Check:
        """Get a token for the app and open the mailbox's Inbox through Graph."""
        try:
            spec = graph_spec(self._config, assignment, Direction.INCOMING)
            items = _folder_count(self._graphs.mailbox(spec), "inbox")
        except RouterError as exc:
            return Check.failure(exc)
        return Check(MailboxTestStatus.SUCCESS, f"signed in to Microsoft Graph as app {spec.client_id} and "
                     f"opened the Inbox ({items} item(s))")

    def _graph_outgoing(self, assignment: MailboxAssignment) -> Check:
        """Open the sending mailbox's Sent Items through Graph; with a service mailbox, probe the right
        Exchange gives it on the user (``router.graph.send_right``)."""
        name = assignment.outgoing_profile or ""
        try:
            profile = profile_for(self._config, assignment, Direction.OUTGOING)
            spec = graph_spec(self._config, assignment, Direction.OUTGOING)
            service = self._graphs.mailbox(spec)
            _folder_count(service, "sentitems")
            expected = expected_right(profile) if profile.service_mailbox else None
            if expected is None:
                return Check(MailboxTestStatus.SUCCESS, "signed in to Microsoft Graph and opened the Sent "
                             f"Items; profile {name!r} sends from the user's own mailbox, so no send right "
                             "is needed")
            attempts = max(1, int(self._wait))
            found = graph_right(service, assignment.address, clock=self._clock, attempts=attempts)
        except RouterError as exc:
            return Check.failure(exc)
        right = GRAPH_RIGHTS[found]
        probe = SendRightProbe(right, spec.mailbox, assignment.address,
                               f"a probe sent through Graph from {spec.mailbox} as {assignment.address}")
        problem = mismatch(profile, probe)
        if problem is not None:
            return Check(MailboxTestStatus.FAILURE, problem, right=right, expected=expected)
        return Check(MailboxTestStatus.SUCCESS, f"{spec.mailbox} holds {LABELS[right]} on "
                     f"{assignment.address}, as profile {name!r} expects ({probe.detail})",
                     right=right, expected=expected)


GRAPH_RIGHTS = {SEND_AS: SendRight.SEND_AS, SEND_ON_BEHALF: SendRight.SEND_ON_BEHALF, NONE: SendRight.NONE,
                UNKNOWN: SendRight.UNKNOWN}


def _folder_count(mailbox: GraphMailbox, folder: str) -> int:
    """The number of items in a well-known folder (one small GET: proves the token and the access)."""
    answer = mailbox.client.request("GET", mailbox.address,
                                    f"/users/{quote(mailbox.address)}/mailFolders/{folder}",
                                    params={"$select": "totalItemCount"}).json()
    return int(answer.get("totalItemCount") or 0)


def _sends_as(profile: Profile) -> str:
    if profile.user_type is UserType.USER:
        return "signs in as the mailbox's owner"
    return "impersonates the user"

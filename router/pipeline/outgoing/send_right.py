"""Which right a service account really holds on a user's mailbox: Send As, Send On Behalf, or none.

Exchange decides at submission, from the account's rights, what a message sent for a user looks like
(ews-notes §2.3): Send As gives From = Sender = user; Send On Behalf gives From = user, Sender = account
("account on behalf of user"); neither gives ErrorSendAsDenied. Send As is a directory permission that
no EWS operation can read, so the only way to know what the account holds is to ask Exchange the way
the router sends: ``detect_send_right`` submits a small probe from the account's *own* mailbox with
From = the user and To = the account itself, then reads the Sender that Exchange stamped on the copy
delivered to the account's Inbox. The probe leaves nothing behind: the delivered copy is deleted, no
copy is saved in Sent Items, and a refused probe's draft is removed from the account's Drafts.

``mismatch`` compares the answer with what the profile promises (``access_type``): a profile that says
``send_as`` for an account holding only Send On Behalf sends "on behalf of", which Test Access reports.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from exchangelib import Message

from router.clock import Clock
from router.config.profile import AccessType as ProfileAccess
from router.config.profile import Profile, UserType
from router.errors import ConfigError, SendAsDeniedError
from router.ews.connection import AccountFactory
from router.ews.errors import ews_errors
from router.ews.spec import AccessType, AuthKind, ConnectionSpec
from router.pipeline.outgoing.addresses import MailAddress, domain_of
from router.pipeline.outgoing.message import OutgoingMessage
from router.pipeline.outgoing.message_id import new_message_id
from router.pipeline.outgoing.render import render
from router.pipeline.outgoing.send import discard_drafts

log = logging.getLogger(__name__)

PROBE_SUBJECT = "email-router: send right probe (delete me)"
DEFAULT_WAIT_SECONDS = 30.0
"""How long to wait for the probe to arrive; Exchange's transport usually delivers within seconds."""


class SendRight(StrEnum):
    """What an account may do with From = another user."""

    SEND_AS = "send_as"
    """Messages appear to come from the user alone."""
    SEND_ON_BEHALF = "send_on_behalf"
    """Messages show "account on behalf of user"."""
    NONE = "none"
    """Exchange refuses (ErrorSendAsDenied)."""
    UNKNOWN = "unknown"
    """The probe was accepted but did not arrive in time to be read."""


@dataclass(frozen=True)
class SendRightProbe:
    """The answer of ``detect_send_right``: the right, and what was observed (for Test Access)."""

    right: SendRight
    account: str
    principal: str
    detail: str


def own_mailbox_spec(spec: ConnectionSpec, address: str | None = None) -> ConnectionSpec:
    """The connection of the service account to its *own* mailbox, from a spec that opens the user's.

    ``address`` is the account's SMTP address; by default its user name, when that is an address.
    """
    own = address or (spec.username if spec.username and "@" in spec.username else None)
    if spec.auth is AuthKind.OAUTH or own is None:
        raise ConfigError(
            f"cannot probe the send right on {spec.mailbox}: "
            + ("an app-only OAuth application has no mailbox to send from" if spec.auth is AuthKind.OAUTH
               else f"the account {spec.username!r} is not an email address"),
            mailbox=spec.mailbox,
            hint="give the service account's own SMTP address; app-only OAuth sends by impersonation, "
                 "which needs no send right")
    return dataclasses.replace(spec, mailbox=own, access_type=AccessType.DELEGATE)


def detect_send_right(accounts: AccountFactory, service: ConnectionSpec, principal: str, *, clock: Clock,
                      wait_seconds: float = DEFAULT_WAIT_SECONDS,
                      poll_seconds: float = 1.0) -> SendRightProbe:
    """Find out what ``service`` (a spec on the account's own mailbox) may do with From = ``principal``.

    Errors other than the refusal itself (bad credentials, no mailbox, server down) are raised as
    router errors naming the account's mailbox.
    """
    account = accounts.account(service)
    message_id = new_message_id(domain_of(service.mailbox))
    try:
        _submit_probe(account, service.mailbox, principal, message_id, clock)
    except SendAsDeniedError as exc:
        discard_drafts(account, message_id, mailbox=service.mailbox, item_id=message_id)
        return SendRightProbe(SendRight.NONE, service.mailbox, principal,
                              f"Exchange refused to send as {principal}: {exc.message}")
    deadline = clock.monotonic() + wait_seconds
    while True:
        copy = _delivered(account, message_id, service.mailbox)
        if copy is not None:
            return _judge(copy, service.mailbox, principal)
        if clock.monotonic() >= deadline:
            return SendRightProbe(SendRight.UNKNOWN, service.mailbox, principal,
                                  f"the probe was accepted but did not reach {service.mailbox}'s Inbox "
                                  f"within {wait_seconds:g} s; a transport delay or an Inbox rule holds it")
        clock.sleep(poll_seconds)


def _submit_probe(account: Any, own: str, principal: str, message_id: str, clock: Clock) -> None:
    """Send the probe (SendOnly: no copy in anyone's Sent Items); a refusal raises SendAsDeniedError."""
    probe = OutgoingMessage(
        message_id=message_id, sender=MailAddress(principal), subject=PROBE_SUBJECT, date=clock.now(),
        html_body="<p>The email router checks which right it holds to send for this mailbox. "
                  "This message is deleted automatically.</p>",
        to=[MailAddress(own)])
    rendered = render(probe, loop_identity="email-router-probe")
    with ews_errors(mailbox=own, item_id=message_id):
        Message(account=account, mime_content=rendered.mime).send(save_copy=False)


def _delivered(account: Any, message_id: str, own: str) -> Any:
    """The delivered probe with its From and Sender, deleted from the Inbox once read; None if not there."""
    with ews_errors(mailbox=own, item_id=message_id):
        found = list(account.inbox.filter(message_id=message_id).only("author", "sender", "message_id"))
        for item in found:
            item.delete()
    return found[0] if found else None


def _judge(copy: Any, own: str, principal: str) -> SendRightProbe:
    sender = (copy.sender.email_address if copy.sender else "") or ""
    author = (copy.author.email_address if copy.author else "") or ""
    if sender.lower() == own.lower() and own.lower() != principal.lower():
        return SendRightProbe(SendRight.SEND_ON_BEHALF, own, principal,
                              f"Exchange delivered From: {author}, Sender: {sender} (on behalf of)")
    return SendRightProbe(SendRight.SEND_AS, own, principal,
                          f"Exchange delivered From: {author}" + (f", Sender: {sender}" if sender else ""))


def expected_right(profile: Profile) -> SendRight | None:
    """The right an outgoing profile relies on; None when it sends as the owner or by impersonation."""
    if profile.user_type is not UserType.ADMINISTRATOR:
        return None
    if profile.access_type is ProfileAccess.SEND_AS:
        return SendRight.SEND_AS
    if profile.access_type is ProfileAccess.DELEGATE:
        return SendRight.SEND_ON_BEHALF
    return None


def mismatch(profile: Profile, probe: SendRightProbe) -> str | None:
    """What Test Access should tell the admin when the account's right is not what the profile says."""
    expected = expected_right(profile)
    who, whom = probe.account, probe.principal
    if expected is None or probe.right is expected:
        return None
    if probe.right is SendRight.UNKNOWN:
        return f"the send right of {who} on {whom} could not be checked: {probe.detail}"
    if probe.right is SendRight.NONE:
        return (f"{who} holds neither Send As nor Send On Behalf on {whom}: every email fails with "
                "ErrorSendAsDenied. Grant the right the profile names, then test again")
    if probe.right is SendRight.SEND_ON_BEHALF:
        return (f"the profile says send_as, but {who} holds only Send On Behalf on {whom}: recipients see "
                f"'{who} on behalf of {whom}'. Grant Send As (Add-ADPermission -ExtendedRights Send-As on "
                "premises, Add-RecipientPermission -AccessRights SendAs online) or set access_type = "
                "\"delegate\"")
    return (f"the profile says delegate (Send On Behalf), but {who} holds Send As on {whom}: Exchange checks "
            "Send As first, so recipients see the user alone. Set access_type = \"send_as\" to say so")

"""Mailbox bindings: which users', queues' and forward mailboxes the router serves, and how.

These are the rows of the legacy "Users, Queues, and Forward Mailboxes" tab, with their per-mailbox
profile overrides, plus what the legacy router kept elsewhere: the credential of a User Specified
mailbox (legacy: stored in the CRM) and the date from which mail is processed (legacy: SystemState
threshold date).
"""

from __future__ import annotations

from uuid import UUID

from pydantic import AwareDatetime, Field

from router.config.common import EMAIL_PATTERN, StrictModel
from router.config.incoming import Acknowledgement, SharedLogging


class _Mailbox(StrictModel):
    address: str = Field(pattern=EMAIL_PATTERN, description="SMTP address of the mailbox.")
    deployment: str | None = Field(
        default=None, description="Deployment the mailbox belongs to; may be left out when there is "
        "exactly one deployment.")
    credential: str | None = Field(
        default=None, description="Vault credential of the mailbox itself; required when a profile it "
        "uses has `credentials = \"user_specified\"`, not allowed otherwise.")
    process_from: AwareDatetime | None = Field(
        default=None, description="Ignore mail received before this instant, e.g. "
        "`2024-05-01T00:00:00Z` (legacy: SystemState threshold date). Default: all unprocessed mail.")
    acknowledge: Acknowledgement | None = Field(
        default=None, description="Overrides the incoming profile's `acknowledge` for this mailbox.")


class MailboxBinding(_Mailbox):
    """A CRM user's or queue's mailbox, one ``[[users]]`` or ``[[queues]]`` entry."""

    crm_id: UUID | None = Field(
        default=None, description="The user's or queue's id in the CRM; looked up by address when unset.")
    incoming: bool = Field(default=True, description="Deliver this mailbox's incoming mail to the CRM.")
    outgoing: bool = Field(default=True, description="Send this mailbox's CRM emails through Exchange.")
    incoming_profile: str | None = Field(
        default=None, description="Incoming profile overriding the deployment's default.")
    outgoing_profile: str | None = Field(
        default=None, description="Outgoing profile overriding the deployment's default.")
    shared_logging: SharedLogging | None = Field(
        default=None, description="Make this a shared logging mailbox: process only its queue folder "
        "(never Junk) and move each processed message to its storage folder.")


class ForwardMailbox(_Mailbox):
    """A forward mailbox, one ``[[forward_mailboxes]]`` entry: it receives copies forwarded by rules."""

    incoming_profile: str | None = Field(
        default=None, description="Incoming profile; default: the deployment's default incoming profile.")
    delete_after_processing: bool = Field(
        default=False, description="Delete each message once delivered (legacy: Delete messages in "
        "forward mailbox after processing); otherwise it is marked processed and kept.")

"""Incoming-mail options: how processed mail is acknowledged, shared logging mailboxes, limits.

``Acknowledgement`` says what the router does on the server once the CRM has committed a message
(legacy: the router's MoveEmails / DeleteEmails; server-side sync's "Tracked to Dynamics" category):
a profile carries the default, a mailbox binding may override it. ``SharedLogging`` turns a bound
mailbox into a shared logging mailbox (as Business Central's email logging does). ``IncomingSettings``
is the ``[settings.incoming]`` table: size policy, per-sender rate breaker, notification streams.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field, model_validator

from router.config.common import StrictModel

FOLDER_PATTERN = r"^[^/\\]+(/[^/\\]+)*$"
"""A folder path: display names separated by '/', e.g. ``Inbox/CRM`` or ``Archive/Logged``."""

JUNK_NAMES = frozenset({"junk email", "junk e-mail", "junk", "junkemail"})
"""Names of the Junk Email folder a shared logging mailbox must never process."""


class Acknowledgement(StrictModel):
    """What happens on the server to a message once the CRM holds it (``acknowledge`` table).

    Any of ``category``, ``mark_read`` and ``move_to`` may be combined; ``delete`` excludes them.
    Messages the CRM did not take (screened or refused) are left untouched in people's mailboxes.
    """

    category: str | None = Field(
        default="Tracked to Dynamics 365", min_length=1, max_length=255,
        description="Outlook category added to the message (other categories are kept); empty to add none.")
    mark_read: bool = Field(default=False, description="Mark the message as read.")
    move_to: str | None = Field(
        default=None, pattern=FOLDER_PATTERN,
        description="Move the message to this folder, a path of display names from the top of the "
        "mailbox, e.g. `Inbox/CRM` (the first name may be `Inbox`, whatever its localised name). "
        "The folder must exist.")
    delete: bool = Field(
        default=False, description="Delete the message (to Deleted Items). Meant for forward mailboxes; "
        "excludes category, mark_read and move_to.")

    @model_validator(mode="after")
    def _delete_alone(self) -> Acknowledgement:
        if self.delete and (self.mark_read or self.move_to):
            raise ValueError("`delete` cannot be combined with `mark_read` or `move_to`")
        return self


class SharedLogging(StrictModel):
    """A shared logging mailbox (``shared_logging`` table of a binding).

    Mail-flow rules copy the organisation's external mail into it. Only ``queue_folder`` (the Inbox
    or a folder below it, never Junk) is processed; each processed message moves to
    ``storage_folder``, and the moved message's id and web link are kept in the decision trail.
    Bind it as a CRM queue whose filtering accepts all mail, so every copy becomes an activity that
    links its internal users and external contacts.
    """

    queue_folder: str = Field(
        default="Inbox", pattern=FOLDER_PATTERN,
        description="Folder the copies arrive in: `Inbox` or a folder below it, e.g. `Inbox/Queue`.")
    storage_folder: str = Field(
        pattern=FOLDER_PATTERN,
        description="Folder each processed message moves to, e.g. `Inbox/Logged`; it must exist.")

    @model_validator(mode="after")
    def _inbox_only(self) -> SharedLogging:
        parts = [p.strip().lower() for p in self.queue_folder.split("/")]
        if parts[0] != "inbox" or any(p in JUNK_NAMES for p in parts):
            raise ValueError("`queue_folder` must be `Inbox` or a folder below it (never Junk Email)")
        if self.storage_folder.strip().lower() == self.queue_folder.strip().lower():
            raise ValueError("`storage_folder` must differ from `queue_folder`")
        return self


class OversizeAction(StrEnum):
    """What to do with a message over the size limits."""

    STRIP = "strip"
    """Deliver it without the oversized attachments, and say so on the activity."""
    QUARANTINE = "quarantine"
    """Quarantine it whole for an admin to decide."""


class PrecedenceHandling(StrEnum):
    """What a ``Precedence: bulk``, ``junk`` or ``list`` header alone decides (RFC 3834 §2: a hint)."""

    HINT = "hint"
    """Only a hint: such mail is delivered unless another auto-reply sign is present (the default;
    people reply to mailing lists, and those replies carry the list's Precedence)."""
    SCREEN = "screen"
    """Screen it out, as an auto-reply (what the legacy router and many filters do)."""


class IncomingSettings(StrictModel):
    """Limits of the incoming pipeline (``[settings.incoming]``)."""

    max_message_bytes: int = Field(
        default=35 * 1024 * 1024, ge=1,
        description="Largest message (raw MIME bytes) delivered as is; Exchange's default limit is 35 MB.")
    max_attachment_bytes: int | None = Field(
        default=None, ge=1,
        description="Largest single attachment; unset leaves the CRM's own upload limit to decide.")
    oversize_action: OversizeAction = Field(
        default=OversizeAction.STRIP,
        description="`strip` (deliver without the oversized attachments, noted on the activity) or "
        "`quarantine`.")
    sender_rate_limit: int = Field(
        default=20, ge=1,
        description="Messages one sender may send one mailbox within `sender_rate_window_seconds`; "
        "more are skipped (a runaway auto-responder or a mail bomb).")
    sender_rate_window_seconds: float = Field(
        default=600.0, gt=0, description="The sliding window of `sender_rate_limit`.")
    deliver_out_of_office: bool = Field(
        default=False, description="Deliver out-of-office replies (IPM.Note.Rules.OofTemplate.Microsoft) to "
        "the CRM, as the legacy router tracked them.")
    precedence: PrecedenceHandling = Field(
        default=PrecedenceHandling.HINT,
        description="`hint` (default): `Precedence: bulk`, `junk` or `list` alone does not make an "
        "auto-reply (RFC 3834), such mail is delivered unless another auto-reply sign is present; "
        "`screen`: screen it out. `Precedence: auto_reply` is screened either way.")
    quarantine_category: str = Field(
        default="Undeliverable", min_length=1, max_length=255,
        description="Outlook category put on a message that was quarantined (server-side sync uses "
        "`Undeliverable`).")
    max_item_attempts: int = Field(
        default=5, ge=1, le=100,
        description="Attempts at one message that fails unexpectedly before it is quarantined.")
    notification_streams: int = Field(
        default=10, ge=0, le=1000,
        description="Most EWS streaming-notification connections held at once per account (endpoint and "
        "credentials); each carries the subscriptions of up to 200 mailboxes, so 10 cover 2,000. Exchange "
        "refuses connections beyond its throttling policy's limit (10 by default) with "
        "ErrorExceededConnectionCount. Mailboxes beyond the connections are swept without notifications; "
        "0 turns notifications off and relies on the sweep alone.")
    notification_minutes: int = Field(
        default=10, ge=1, le=30,
        description="Minutes one streaming connection stays open before it is renewed.")
    graph_poll_seconds: float = Field(
        default=30.0, gt=0, le=3600,
        description="Microsoft Graph mailboxes have no notifications on-premises (Graph needs a public "
        "webhook): how often the router asks Graph whether an idle Graph mailbox changed, twenty mailboxes "
        "to a $batch, so new mail there reaches the CRM within about this long (a mailbox that just had mail "
        "is asked again after 2 s, doubling to this). 0 notification_streams turns this off too: idle Graph "
        "mailboxes then back off like EWS ones without notifications.")

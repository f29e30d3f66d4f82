"""The option-set values of Dynamics CRM that the router reads and writes, exactly as Dynamics numbers them.

Every value here is the integer the CRM stores and the Web API sends (see the reference notes
``legacy-email-router.md`` §3.3-§4.6). Keeping them as ``IntEnum`` lets both gateways, the facade and the
CLI speak the same numbers without a translation table.
"""

from __future__ import annotations

from enum import IntEnum, StrEnum


class ReasonCode(IntEnum):
    """``CheckIncomingEmailResponse.ReasonCode``: why the CRM accepts or refuses an incoming message."""

    UNKNOWN = -1
    DUPLICATE = 0
    NO_CORRELATION_MATCH = 1
    CORRELATION_MATCH = 2
    NO_RECIPIENT_MATCH = 3
    INTERNAL_EMAIL_REJECT = 4
    SENDER_MATCH = 5
    ACCEPT_ALL = 6
    INVALID_SENDER = 7


class CorrelationMethod(IntEnum):
    """``email.correlationmethod``: how an incoming email was tied to an earlier one."""

    NONE = 0
    SKIPPED = 1
    XHEADER = 2
    IN_REPLY_TO = 3
    TRACKING_TOKEN = 4
    CONVERSATION_INDEX = 5
    SMART_MATCHING = 6
    CUSTOM_CORRELATION = 7


class EmailState(IntEnum):
    """``email.statecode``."""

    OPEN = 0
    COMPLETED = 1
    CANCELED = 2


class EmailStatus(IntEnum):
    """``email.statuscode``; ``state`` gives the statecode Dynamics pairs it with."""

    DRAFT = 1
    COMPLETED = 2
    SENT = 3
    RECEIVED = 4
    CANCELED = 5
    PENDING_SEND = 6
    SENDING = 7
    FAILED = 8

    @property
    def state(self) -> EmailState:
        """The only statecode Dynamics accepts together with this statuscode."""
        if self in (EmailStatus.DRAFT, EmailStatus.FAILED):
            return EmailState.OPEN
        if self is EmailStatus.CANCELED:
            return EmailState.CANCELED
        return EmailState.COMPLETED

    @property
    def label(self) -> str:
        """The name Dynamics shows for the status, e.g. ``Pending Send``."""
        return self.name.replace("_", " ").title()


class ParticipationType(IntEnum):
    """``activityparty.participationtypemask``: the role of a party on an activity."""

    SENDER = 1
    TO_RECIPIENT = 2
    CC_RECIPIENT = 3
    BCC_RECIPIENT = 4
    REQUIRED_ATTENDEE = 5
    OPTIONAL_ATTENDEE = 6
    ORGANIZER = 7
    REGARDING = 8
    OWNER = 9
    RESOURCE = 10
    CUSTOMER = 11
    CHAT_PARTICIPANT = 12
    RELATED = 13


class FilteringMethod(IntEnum):
    """``incomingemailfilteringmethod`` (user settings, queues): which incoming mail a recipient tracks."""

    ALL = 0
    RESPONSES = 1
    FROM_LEADS_CONTACTS_ACCOUNTS = 2
    FROM_EMAIL_ENABLED_RECORDS = 3
    NONE = 4


class IncomingDeliveryMethod(IntEnum):
    """``mailbox.incomingemaildeliverymethod``."""

    NONE = 0
    OUTLOOK = 1
    ROUTER = 2
    FORWARD_MAILBOX = 3


class OutgoingDeliveryMethod(IntEnum):
    """``mailbox.outgoingemaildeliverymethod``."""

    NONE = 0
    OUTLOOK = 1
    ROUTER = 2


class Approval(IntEnum):
    """``emailrouteraccessapproval``: whether an admin approved the mailbox address for the router."""

    EMPTY = 0
    APPROVED = 1
    PENDING_APPROVAL = 2
    REJECTED = 3


class MailboxTestStatus(IntEnum):
    """``incomingemailstatus`` / ``outgoingemailstatus`` / ``mailboxstatus`` on a mailbox."""

    NOT_RUN = 0
    SUCCESS = 1
    FAILURE = 2


class Importance(IntEnum):
    """``email.deliveryprioritycode``, and the ``Importance`` string of DeliverIncomingEmail."""

    LOW = 0
    NORMAL = 1
    HIGH = 2


class Notification(IntEnum):
    """``email.notifications``: what the CRM could not keep of an incoming message."""

    NONE = 0
    ATTACHMENTS_NOT_SAVED = 1
    BODY_TRUNCATED = 2


class OwnerType(IntEnum):
    """Whose mailbox it is: the two kinds of record the router serves."""

    SYSTEMUSER = 8
    QUEUE = 2020

    @property
    def logical_name(self) -> str:
        """The Dynamics logical name of the owning table."""
        return self.name.lower()


class ErrorCode(StrEnum):
    """Platform error codes (the ``error.code`` of a Web API error) the embedded CRM raises and maps."""

    INVALID_ARGUMENT = "0x80040203"
    UNEXPECTED = "0x80040216"
    RECORD_NOT_FOUND = "0x80040217"
    PRIVILEGE_DENIED = "0x80040220"
    DUPLICATE_RECORD = "0x80040237"
    CONCURRENCY_MISMATCH = "0x80060882"
    SEGMENT_NOT_FOUND = "0x8006088a"
    #: The two codes below are the facade's own (Dynamics' codes for these cases are not documented).
    METHOD_NOT_ALLOWED = "0x80060888"
    REQUEST_TOO_LARGE = "0x8004f8b8"

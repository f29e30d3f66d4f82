"""The tables of the embedded CRM, named and typed like their Dynamics counterparts.

Column names are the Dynamics logical names, so the Web API facade can expose rows without a mapping
and an admin who knows Dynamics recognises every field. Polymorphic lookups (``regardingobjectid``,
``partyid``, a mailbox's owner) are stored as an id column plus a ``...typecode`` column holding the
target's logical name. Every table carries ``versionnumber``, bumped on each update, which the facade
serves as the ETag for ``If-Match``.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    Boolean,
    Column,
    Dialect,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    func,
    text,
)


class UtcDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime stored as fixed-width ISO 8601 text, so string order is time order.

    Values are kept to the second, as Dynamics keeps them, so a value written in process and one written
    through the Web API (which carries seconds) are stored identically.
    """

    impl = String(25)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r} given to the CRM; pass an aware UTC datetime")
        return value.astimezone(UTC).replace(microsecond=0).isoformat(timespec="seconds")

    def process_result_value(self, value: str | None, dialect: Dialect) -> datetime | None:
        return None if value is None else datetime.fromisoformat(value)


metadata = MetaData()


def _id(name: str) -> Column[str]:
    return Column(name, String(36), primary_key=True)


def _audit() -> list[Column[object]]:
    return [
        Column("createdon", UtcDateTime(), nullable=False),
        Column("modifiedon", UtcDateTime(), nullable=False),
        Column("versionnumber", Integer, nullable=False, default=1),
    ]


def _emails() -> list[Column[object]]:
    return [Column(f"emailaddress{n}", String(100)) for n in (1, 2, 3)]


organization = Table(
    "organization",
    metadata,
    _id("organizationid"),
    Column("name", String(160), nullable=False),
    Column("businessunitid", String(36), nullable=False),
    Column("trackingprefix", String(20), nullable=False, default="CRM:"),
    Column("previoustrackingprefixes", Text, nullable=False, default=""),
    Column("trackingtokenidbase", Integer, nullable=False, default=0),
    Column("trackingtokeniddigits", Integer, nullable=False, default=3),
    Column("maximumtrackingnumber", Integer, nullable=False, default=3),
    Column("ignoreinternalemail", Boolean, nullable=False, default=False),
    Column("requireapprovalforuseremail", Boolean, nullable=False, default=False),
    Column("requireapprovalforqueueemail", Boolean, nullable=False, default=False),
    Column("allowunresolvedpartiesonemailsend", Boolean, nullable=False, default=True),
    Column("maxuploadfilesize", Integer, nullable=False, default=5 * 1024 * 1024),
    Column("emailcorrelationenabled", Boolean, nullable=False, default=True),
    Column("hashminaddresscount", Integer, nullable=False, default=2),
    Column("emailconnectionchannel", Integer, nullable=False, default=1),
    *_audit(),
)

systemuser = Table(
    "systemuser",
    metadata,
    _id("systemuserid"),
    Column("fullname", String(200), nullable=False),
    Column("domainname", String(1024), nullable=False, unique=True),
    Column("internalemailaddress", String(100), nullable=False),
    Column("applicationid", String(36), unique=True),
    Column("isdisabled", Boolean, nullable=False, default=False),
    Column("defaultmailbox", String(36)),
    Column("trackingusernumber", Integer, nullable=False),
    Column("trackingcounter", Integer, nullable=False, default=0),
    *_audit(),
)

usersettings = Table(
    "usersettings",
    metadata,
    Column("systemuserid", String(36), primary_key=True),
    Column("incomingemailfilteringmethod", Integer, nullable=False, default=2),
    Column("issendasallowed", Boolean, nullable=False, default=False),
    *_audit(),
)

queue = Table(
    "queue",
    metadata,
    _id("queueid"),
    Column("name", String(400), nullable=False),
    Column("emailaddress", String(100)),
    Column("incomingemailfilteringmethod", Integer, nullable=False, default=0),
    Column("defaultmailbox", String(36)),
    Column("statecode", Integer, nullable=False, default=0),
    *_audit(),
)

contact = Table(
    "contact",
    metadata,
    _id("contactid"),
    Column("fullname", String(160), nullable=False),
    *_emails(),
    Column("statecode", Integer, nullable=False, default=0),
    *_audit(),
)

account = Table(
    "account",
    metadata,
    _id("accountid"),
    Column("name", String(160), nullable=False),
    *_emails(),
    Column("statecode", Integer, nullable=False, default=0),
    *_audit(),
)

lead = Table(
    "lead",
    metadata,
    _id("leadid"),
    Column("fullname", String(160), nullable=False),
    Column("companyname", String(100)),
    *_emails(),
    Column("statecode", Integer, nullable=False, default=0),
    *_audit(),
)


def _lower_address_indexes(table: Table, *columns: str) -> None:
    """Index the lower-cased value of each e-mail column: party resolution looks addresses up by it."""
    for column in columns:
        Index(f"ix_{table.name}_{column}_lower", func.lower(table.c[column]))


_lower_address_indexes(systemuser, "internalemailaddress")
_lower_address_indexes(queue, "emailaddress")
for _table in (contact, account, lead):
    _lower_address_indexes(_table, "emailaddress1", "emailaddress2", "emailaddress3")

mailbox = Table(
    "mailbox",
    metadata,
    _id("mailboxid"),
    Column("name", String(200), nullable=False),
    Column("emailaddress", String(100), nullable=False),
    Column("regardingobjectid", String(36), nullable=False),
    Column("regardingobjecttypecode", String(20), nullable=False),
    Column("incomingemaildeliverymethod", Integer, nullable=False, default=2),
    Column("outgoingemaildeliverymethod", Integer, nullable=False, default=2),
    Column("emailrouteraccessapproval", Integer, nullable=False, default=0),
    Column("incomingemailstatus", Integer, nullable=False, default=0),
    Column("outgoingemailstatus", Integer, nullable=False, default=0),
    Column("mailboxstatus", Integer, nullable=False, default=0),
    Column("enabledforincomingemail", Boolean, nullable=False, default=False),
    Column("enabledforoutgoingemail", Boolean, nullable=False, default=False),
    Column("testemailconfigurationscheduled", Boolean, nullable=False, default=False),
    Column("testmailboxaccesscompletedon", UtcDateTime()),
    Column("processemailreceivedafter", UtcDateTime()),
    Column("isforwardmailbox", Boolean, nullable=False, default=False),
    Column("lastsyncerror", Text),
    Column("lastsyncerrorcode", Integer),
    Column("lastsyncerrorcount", Integer, nullable=False, default=0),
    Column("lastsyncerroroccurredon", UtcDateTime()),
    Column("lastsuccessfulsynccompletedon", UtcDateTime()),
    Column("statecode", Integer, nullable=False, default=0),
    Column("statuscode", Integer, nullable=False, default=1),
    *_audit(),
    Index("ix_mailbox_address", "emailaddress"),
)
_lower_address_indexes(mailbox, "emailaddress")

email = Table(
    "email",
    metadata,
    _id("activityid"),
    Column("subject", String(800), nullable=False, default=""),
    Column("description", Text, nullable=False, default=""),
    Column("statecode", Integer, nullable=False),
    Column("statuscode", Integer, nullable=False),
    Column("directioncode", Boolean, nullable=False),
    Column("messageid", String(320)),
    Column("inreplyto", String(320)),
    Column("conversationindex", String(2048)),
    Column("trackingtoken", String(50)),
    Column("sender", String(250)),
    Column("torecipients", String(500)),
    Column("submittedby", String(250)),
    Column("deliveryattempts", Integer, nullable=False, default=0),
    Column("deliveryprioritycode", Integer, nullable=False, default=1),
    Column("senton", UtcDateTime()),
    Column("actualend", UtcDateTime()),
    Column("deliverylastattemptedon", UtcDateTime()),
    Column("regardingobjectid", String(36)),
    Column("regardingobjecttypecode", String(20)),
    Column("sendermailboxid", String(36)),
    Column("receivingmailboxid", String(36)),
    Column("correlationmethod", Integer, nullable=False, default=0),
    Column("notifications", Integer, nullable=False, default=0),
    Column("mimetype", String(256), nullable=False, default="text/html"),
    Column("attachmentcount", Integer, nullable=False, default=0),
    Column("parentactivityid", String(36)),
    Column("correlatedactivityid", String(36)),
    Column("acceptingentityid", String(36)),
    Column("acceptingentitytypecode", String(20)),
    Column("emailsender", String(36)),
    Column("emailsendertypecode", String(20)),
    Column("createdby", String(36)),
    *_audit(),
    Index("ix_email_messageid", "messageid"),
    Index("ix_email_trackingtoken", "trackingtoken"),
    Index("ix_email_status_mailbox", "statuscode", "sendermailboxid"),
    Index("ix_email_received_messageid", "messageid", unique=True, sqlite_where=text("directioncode = 0")),
    # CheckIncomingEmail's duplicate check, DeliverIncomingEmail's idempotence and In-Reply-To
    # correlation compare Message-IDs case-insensitively: without it each is a scan of every e-mail.
    Index("ix_email_messageid_lower", func.lower(text("messageid"))),
)

email_subject_key = Table(
    "email_subject_key",
    metadata,
    # Not a Dynamics table (Dynamics keeps its own e-mail hashes): each e-mail's subject as smart
    # matching compares it, indexed, kept by triggers (see ``subjects``); NULL until computed.
    Column("activityid", String(36), primary_key=True),
    Column("subjectkey", Text),
    Index("ix_email_subject_key", "subjectkey"),
)

activityparty = Table(
    "activityparty",
    metadata,
    _id("activitypartyid"),
    Column("activityid", String(36), nullable=False, index=True),
    Column("participationtypemask", Integer, nullable=False),
    Column("partyid", String(36), index=True),
    Column("partyobjecttypecode", String(20)),
    Column("addressused", String(320)),
    Column("ispartydeleted", Boolean, nullable=False, default=False),
    *_audit(),
)

activitymimeattachment = Table(
    "activitymimeattachment",
    metadata,
    _id("activitymimeattachmentid"),
    Column("objectid", String(36), nullable=False, index=True),
    Column("objecttypecode", String(20), nullable=False, default="email"),
    Column("filename", String(255), nullable=False),
    Column("mimetype", String(256), nullable=False),
    Column("body", Text, nullable=False),
    Column("filesize", Integer, nullable=False),
    Column("attachmentcontentid", String(256)),
    Column("attachmentnumber", Integer, nullable=False),
    *_audit(),
)

annotation = Table(
    "annotation",
    metadata,
    _id("annotationid"),
    Column("objectid", String(36), nullable=False, index=True),
    Column("objecttypecode", String(20), nullable=False),
    Column("subject", String(500), nullable=False, default=""),
    Column("notetext", Text, nullable=False, default=""),
    *_audit(),
)

call_journal = Table(
    "call_journal",
    metadata,
    # Not a Dynamics table: the embedded CRM's own record of the calls it answered, for audits that
    # count what the CRM received independently of the router's state (see ``journal``).
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", UtcDateTime(), nullable=False),
    Column("operation", String(32), nullable=False),
    Column("messageid", String(320), nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("activityid", String(36)),
    # The caller's lane and fencing token when it sent one (a router instance holding a lane lease).
    Column("lane", String(340)),
    Column("token", Integer),
    Index("ix_call_journal_messageid", "messageid"),
)

lane_fences = Table(
    "lane_fences",
    metadata,
    # Not a Dynamics table: the highest fencing token the embedded CRM has seen per router lane; a call
    # carrying a lower one comes from an instance that lost the lane and is refused (see ``fences``).
    Column("lane", String(340), primary_key=True),
    Column("token", Integer, nullable=False),
)

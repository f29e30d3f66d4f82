"""The entity sets the Web API facade serves, described as Dynamics' ``$metadata`` names them.

For each set: the table behind it, its key, which columns are hidden (internal to the embedded CRM) or
read-only, its lookups (``_x_value`` on read, ``<navigation>@odata.bind`` on write) and its collection
navigation properties (``email_activity_parties``). The facade's reads, writes, ``$expand`` and
``$metadata`` all work from this table.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Table

from router.crm.embedded.rows import key_column
from router.crm.embedded.schema import (
    account,
    activitymimeattachment,
    activityparty,
    annotation,
    contact,
    email,
    lead,
    mailbox,
    organization,
    queue,
    systemuser,
    usersettings,
)

REGARDING_TARGETS = ("account", "contact", "lead")
"""The e-mail regarding targets the embedded CRM has tables for (the real service has 46, none of them
systemuser, queue or email)."""
PARTY_TARGETS = ("systemuser", "contact", "account", "lead", "queue")


@dataclass(frozen=True)
class Lookup:
    """A single-valued lookup column; ``type_column`` is set for polymorphic ones.

    ``navigations`` maps each navigation property name accepted in ``@odata.bind`` to the logical name
    of the table it targets.
    """

    column: str
    navigations: dict[str, str]
    type_column: str | None = None

    @property
    def read_name(self) -> str:
        """The Web API name of the lookup's value, e.g. ``_regardingobjectid_value``."""
        return f"_{self.column}_value"


@dataclass(frozen=True)
class Collection:
    """A collection-valued navigation property: rows of ``entity_set`` whose ``foreign_key`` is our key."""

    entity_set: str
    foreign_key: str


@dataclass(frozen=True)
class EntitySet:
    """One Web API entity set over one embedded-CRM table."""

    name: str
    logical_name: str
    table: Table
    lookups: tuple[Lookup, ...] = ()
    collections: dict[str, Collection] = field(default_factory=dict)
    hidden: frozenset[str] = frozenset()
    writable: frozenset[str] | None = None
    creatable: bool = False
    deletable: bool = False

    @property
    def key(self) -> str:
        """The key column."""
        return key_column(self.table)

    def lookup_for_column(self, column: str) -> Lookup | None:
        """The lookup stored in ``column`` (or whose type is stored there), if any."""
        return next((lk for lk in self.lookups if column in (lk.column, lk.type_column)), None)

    def lookup_for_navigation(self, navigation: str) -> tuple[Lookup, str] | None:
        """The lookup a navigation property binds, and the logical name of its target."""
        for lookup in self.lookups:
            if navigation in lookup.navigations:
                return lookup, lookup.navigations[navigation]
        return None

    def plain_columns(self) -> list[str]:
        """Columns served as plain properties (not hidden, not a lookup)."""
        names = [column.key for column in self.table.c]
        return [c for c in names if c not in self.hidden and self.lookup_for_column(c) is None]

    def can_write(self, column: str) -> bool:
        """True when a client may set ``column`` directly."""
        if column in self.hidden or column in _SYSTEM or column == self.key:
            return False
        return self.writable is None or column in self.writable


_SYSTEM = frozenset({"createdon", "modifiedon", "versionnumber"})


def _poly(column: str, type_column: str, suffix: str, targets: tuple[str, ...]) -> Lookup:
    return Lookup(column, {f"{column}_{t}{suffix}": t for t in targets}, type_column)


def _single(column: str, target: str, *navigations: str) -> Lookup:
    return Lookup(column, {n: target for n in navigations})


_NOT_ON_THE_REAL_SERVICE = frozenset({"createdon", "modifiedon"})
"""Audit columns the embedded CRM keeps on parties and attachments, which the real types do not declare."""

_EMAIL_COLLECTIONS = {
    "email_activity_parties": Collection("activityparties", "activityid"),
    "email_activity_mime_attachment": Collection("activitymimeattachments", "objectid"),
    "Email_Annotation": Collection("annotations", "objectid"),
}

ENTITY_SETS: tuple[EntitySet, ...] = (
    EntitySet(
        "emails",
        "email",
        email,
        lookups=(
            _poly("regardingobjectid", "regardingobjecttypecode", "_email", REGARDING_TARGETS),
            _poly("emailsender", "emailsendertypecode", "", PARTY_TARGETS),
            _single("sendermailboxid", "mailbox", "sendermailboxid_email"),
            _single("parentactivityid", "email", "parentactivityid"),
            _single("createdby", "systemuser", "createdby"),
        ),
        collections=_EMAIL_COLLECTIONS,
        # Kept by the embedded CRM for its own decisions; no v9.0 $metadata declares them.
        hidden=frozenset({"receivingmailboxid", "correlatedactivityid", "acceptingentityid",
                          "acceptingentitytypecode"}),
        creatable=True,
        deletable=True,
    ),
    EntitySet(
        "activityparties",
        "activityparty",
        activityparty,
        lookups=(
            _single("activityid", "email", "activityid_email"),
            _poly("partyid", "partyobjecttypecode", "", PARTY_TARGETS),
        ),
        hidden=_NOT_ON_THE_REAL_SERVICE,
    ),
    EntitySet(
        "activitymimeattachments",
        "activitymimeattachment",
        activitymimeattachment,
        lookups=(Lookup("objectid", {"objectid_email": "email", "objectid_activitypointer": "email"}),),
        hidden=_NOT_ON_THE_REAL_SERVICE,
        writable=frozenset({"filename", "mimetype", "body", "attachmentcontentid", "subject"}),
        creatable=True,
        deletable=True,
    ),
    EntitySet(
        "annotations",
        "annotation",
        annotation,
        lookups=(Lookup("objectid", {"objectid_email": "email", "objectid_activitypointer": "email"}),),
        hidden=frozenset({"objecttypecode"}),
        creatable=True,
        deletable=True,
    ),
    EntitySet(
        "mailboxes",
        "mailbox",
        mailbox,
        lookups=(
            Lookup(
                "regardingobjectid",
                {"regardingobjectid": "systemuser", "regardingobjectid_queue": "queue"},
                "regardingobjecttypecode",
            ),
        ),
        writable=frozenset(
            {
                "name",
                "emailaddress",
                "incomingemaildeliverymethod",
                "outgoingemaildeliverymethod",
                "incomingemailstatus",
                "outgoingemailstatus",
                "emailrouteraccessapproval",
                "enabledforincomingemail",
                "enabledforoutgoingemail",
                "testemailconfigurationscheduled",
                "testmailboxaccesscompletedon",
                "processemailreceivedafter",
                "lastsyncerror",
                "lastsyncerrorcode",
                "lastsyncerrorcount",
                "lastsyncerroroccurredon",
                "statecode",
                "statuscode",
            }
        ),
    ),
    EntitySet(
        "systemusers",
        "systemuser",
        systemuser,
        lookups=(_single("defaultmailbox", "mailbox", "defaultmailbox"),),
        hidden=frozenset({"trackingusernumber", "trackingcounter"}),
        writable=frozenset({"fullname", "internalemailaddress", "isdisabled"}),
    ),
    EntitySet(
        "usersettingscollection",
        "usersettings",
        usersettings,
        writable=frozenset({"incomingemailfilteringmethod", "issendasallowed"}),
    ),
    EntitySet(
        "queues",
        "queue",
        queue,
        lookups=(_single("defaultmailbox", "mailbox", "defaultmailbox"),),
        writable=frozenset({"name", "emailaddress", "incomingemailfilteringmethod"}),
    ),
    EntitySet("contacts", "contact", contact, creatable=True, deletable=True),
    EntitySet("accounts", "account", account, creatable=True, deletable=True),
    EntitySet("leads", "lead", lead, creatable=True, deletable=True),
    EntitySet(
        "organizations",
        "organization",
        organization,
        hidden=frozenset({"previoustrackingprefixes", "businessunitid"}),
        writable=frozenset(organization.c.keys()) - {"businessunitid", "previoustrackingprefixes"},
    ),
)

BY_NAME = {s.name: s for s in ENTITY_SETS}
BY_LOGICAL_NAME = {s.logical_name: s for s in ENTITY_SETS}

"""Inbox rules: their model, their conditions, and the actions applied when mail is delivered.

Rules run in priority order on each message delivered to an Inbox. Forwarding actions hand a new
message to the transport through the ``forward`` callback; the ``X-MS-Exchange-Inbox-Rules-Loop``
header stops a message from being forwarded twice by the same mailbox, as Exchange does.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from router.simulator import mime
from router.simulator.model import Address, Item, User

LOOP_HEADER = "X-MS-Exchange-Inbox-Rules-Loop"

STRING_PREDICATES = (
    "Categories",
    "ContainsBodyStrings",
    "ContainsHeaderStrings",
    "ContainsRecipientStrings",
    "ContainsSenderStrings",
    "ContainsSubjectOrBodyStrings",
    "ContainsSubjectStrings",
    "ItemClasses",
    "MessageClassifications",
)
ADDRESS_PREDICATES = ("FromAddresses", "SentToAddresses")
FLAG_PREDICATES = (
    "HasAttachments",
    "IsAutomaticForward",
    "IsAutomaticReply",
    "NotSentToMe",
    "SentCcMe",
    "SentOnlyToMe",
    "SentToMe",
    "SentToOrCcMe",
)
VALUE_PREDICATES = ("Importance", "Sensitivity", "FlaggedForAction")


@dataclass
class Predicates:
    """A rule's Conditions or Exceptions (the schema's RulePredicatesType, supported subset)."""

    strings: dict[str, list[str]] = field(default_factory=dict)
    addresses: dict[str, list[Address]] = field(default_factory=dict)
    flags: dict[str, bool] = field(default_factory=dict)
    values: dict[str, str] = field(default_factory=dict)

    def empty(self) -> bool:
        return not (self.strings or self.addresses or self.flags or self.values)


@dataclass
class Actions:
    """A rule's Actions (the schema's RuleActionsType)."""

    assign_categories: list[str] = field(default_factory=list)
    copy_to_folder: bytes | None = None
    delete: bool = False
    forward_as_attachment_to: list[Address] = field(default_factory=list)
    forward_to: list[Address] = field(default_factory=list)
    mark_importance: str | None = None
    mark_as_read: bool = False
    move_to_folder: bytes | None = None
    permanent_delete: bool = False
    redirect_to: list[Address] = field(default_factory=list)
    stop_processing_rules: bool = False


@dataclass
class Rule:
    """One Inbox rule."""

    rule_id: str
    name: str
    priority: int
    enabled: bool = True
    conditions: Predicates = field(default_factory=Predicates)
    exceptions: Predicates = field(default_factory=Predicates)
    actions: Actions = field(default_factory=Actions)


def new_rule_id() -> str:
    return "AQAAA" + uuid.uuid4().hex[:16].upper()


def _text_contains(haystack: str, needles: list[str]) -> bool:
    low = haystack.lower()
    return any(n.lower() in low for n in needles)


def _string_match(name: str, needles: list[str], item: Item) -> bool:
    body = item.mime.decode("utf-8", "replace")
    if name == "ContainsSubjectStrings":
        return _text_contains(item.subject, needles)
    if name == "ContainsBodyStrings":
        return _text_contains(body.split("\n\n", 1)[-1], needles)
    if name == "ContainsSubjectOrBodyStrings":
        return _text_contains(item.subject, needles) or _text_contains(body, needles)
    if name == "ContainsSenderStrings":
        return bool(item.from_) and _text_contains(item.from_.formatted(), needles)  # type: ignore[union-attr]
    if name == "ContainsRecipientStrings":
        return _text_contains(" ".join(a.formatted() for a in item.to + item.cc), needles)
    if name == "ContainsHeaderStrings":
        return _text_contains("\n".join(f"{k}: {v}" for k, v in mime.headers(item.mime)), needles)
    if name == "Categories":
        return any(c.lower() in (x.lower() for x in item.categories) for c in needles)
    if name == "ItemClasses":
        return item.item_class.lower() in (n.lower() for n in needles)
    return False


def _flag_match(name: str, item: Item, owner: User) -> bool:
    me = {owner.key, *(a.lower() for a in owner.aliases)}
    to = {a.key for a in item.to}
    cc = {a.key for a in item.cc}
    checks: dict[str, Callable[[], bool]] = {
        "HasAttachments": lambda: item.has_attachments,
        "SentToMe": lambda: bool(me & to),
        "SentCcMe": lambda: bool(me & cc),
        "SentToOrCcMe": lambda: bool(me & (to | cc)),
        "NotSentToMe": lambda: not (me & to),
        "SentOnlyToMe": lambda: to <= me and bool(to) and not cc,
        "IsAutomaticForward": lambda: item.subject.upper().startswith("FW:"),
        "IsAutomaticReply": lambda: item.item_class.startswith("IPM.Note.Rules.OofTemplate"),
    }
    return checks.get(name, lambda: False)()


def matches(pred: Predicates, item: Item, owner: User) -> bool:
    """True when every predicate present holds (an empty set of predicates matches everything)."""
    for name, needles in pred.strings.items():
        if not _string_match(name, needles, item):
            return False
    for name, addrs in pred.addresses.items():
        wanted = {a.key for a in addrs}
        pool = (
            {item.from_.key} if name == "FromAddresses" and item.from_ else {a.key for a in item.to + item.cc}
        )
        if not wanted & pool:
            return False
    for name, want in pred.flags.items():
        if _flag_match(name, item, owner) != want:
            return False
    for name, value in pred.values.items():
        actual = {
            "Importance": item.importance,
            "Sensitivity": item.sensitivity,
            "FlaggedForAction": item.flag.status,
        }.get(name, "")
        if actual.lower() != value.lower():
            return False
    return True


def applies(rule: Rule, item: Item, owner: User) -> bool:
    if not rule.enabled or not matches(rule.conditions, item, owner):
        return False
    return rule.exceptions.empty() or not matches(rule.exceptions, item, owner)


def already_forwarded_by(item: Item, owner: User) -> bool:
    """Whether this mailbox's rules already forwarded this message (loop protection)."""
    for name, value in mime.headers(item.mime):
        if name.lower() == LOOP_HEADER.lower() and owner.key in value.lower():
            return True
    return False

"""GetInboxRules and UpdateInboxRules (CreateRuleOperation, SetRuleOperation, DeleteRuleOperation)."""

from __future__ import annotations

from lxml import etree

from router.simulator.itemdata import parse_mailbox
from router.simulator.model import Address, User
from router.simulator.operations.base import NO_MAILBOX, Ctx, ItemError, operation, resolve_folder
from router.simulator.permissions import has_full_access
from router.simulator.rules import (
    ADDRESS_PREDICATES,
    FLAG_PREDICATES,
    STRING_PREDICATES,
    VALUE_PREDICATES,
    Actions,
    Predicates,
    Rule,
    new_rule_id,
)
from router.simulator.xml import (
    BODY_NSMAP,
    Element,
    add_strings,
    child,
    children,
    fbool,
    local,
    m,
    msub,
    strings,
    text_of,
    tsub,
    xbool,
)

PREDICATE_ORDER = (
    "Categories",
    "ContainsBodyStrings",
    "ContainsHeaderStrings",
    "ContainsRecipientStrings",
    "ContainsSenderStrings",
    "ContainsSubjectOrBodyStrings",
    "ContainsSubjectStrings",
    "FlaggedForAction",
    "FromAddresses",
    "HasAttachments",
    "Importance",
    "IsAutomaticForward",
    "IsAutomaticReply",
    "ItemClasses",
    "MessageClassifications",
    "NotSentToMe",
    "SentCcMe",
    "SentOnlyToMe",
    "SentToAddresses",
    "SentToMe",
    "SentToOrCcMe",
    "Sensitivity",
)


def _addresses(el: Element | None) -> list[Address]:
    return [a for a in (parse_mailbox(c) for c in children(el, "Address")) if a is not None]


def _parse_predicates(el: Element | None) -> Predicates:
    pred = Predicates()
    for c in children(el):
        name = local(c)
        if name in STRING_PREDICATES:
            pred.strings[name] = strings(c)
        elif name in ADDRESS_PREDICATES:
            pred.addresses[name] = _addresses(c)
        elif name in FLAG_PREDICATES:
            pred.flags[name] = xbool(c.text)
        elif name in VALUE_PREDICATES:
            pred.values[name] = (c.text or "").strip()
        else:
            raise ItemError("ErrorInvalidRequest", f"The rule condition '{name}' is not supported.")
    return pred


def _folder(ctx: Ctx, el: Element | None) -> bytes | None:
    ids = children(el)
    return resolve_folder(ctx, ids[0]).uid if ids else None


def _parse_actions(ctx: Ctx, el: Element | None) -> Actions:
    return Actions(
        assign_categories=strings(child(el, "AssignCategories")),
        copy_to_folder=_folder(ctx, child(el, "CopyToFolder")),
        delete=xbool(text_of(el, "Delete")),
        forward_as_attachment_to=_addresses(child(el, "ForwardAsAttachmentToRecipients")),
        forward_to=_addresses(child(el, "ForwardToRecipients")),
        mark_importance=text_of(el, "MarkImportance"),
        mark_as_read=xbool(text_of(el, "MarkAsRead")),
        move_to_folder=_folder(ctx, child(el, "MoveToFolder")),
        permanent_delete=xbool(text_of(el, "PermanentDelete")),
        redirect_to=_addresses(child(el, "RedirectToRecipients")),
        stop_processing_rules=xbool(text_of(el, "StopProcessingRules")),
    )


def parse_rule(ctx: Ctx, el: Element, rule_id: str | None = None) -> Rule:
    return Rule(
        rule_id or text_of(el, "RuleId") or new_rule_id(),
        text_of(el, "DisplayName", "") or "",
        int(text_of(el, "Priority", "1") or "1"),
        xbool(text_of(el, "IsEnabled"), True),
        _parse_predicates(child(el, "Conditions")),
        _parse_predicates(child(el, "Exceptions")),
        _parse_actions(ctx, child(el, "Actions")),
    )


def _render_addresses(ctx: Ctx, parent: Element, name: str, addrs: list[Address]) -> None:
    box = tsub(parent, name)
    for a in addrs:
        ctx.renderer.mailbox(box, "Address", a)


def _render_predicates(ctx: Ctx, parent: Element, name: str, pred: Predicates) -> None:
    if pred.empty():
        return
    el = tsub(parent, name)
    for key in PREDICATE_ORDER:
        if key in pred.strings:
            add_strings(el, key, pred.strings[key])
        elif key in pred.addresses:
            _render_addresses(ctx, el, key, pred.addresses[key])
        elif key in pred.flags:
            tsub(el, key, fbool(pred.flags[key]))
        elif key in pred.values:
            tsub(el, key, pred.values[key])


def _render_folder(ctx: Ctx, parent: Element, name: str, uid: bytes | None) -> None:
    folder = ctx.store.folder(uid) if uid else None
    if folder is not None:
        ctx.renderer.folder_id(tsub(parent, name), folder)


def _render_actions(ctx: Ctx, parent: Element, act: Actions) -> None:
    el = tsub(parent, "Actions")
    if act.assign_categories:
        add_strings(el, "AssignCategories", act.assign_categories)
    _render_folder(ctx, el, "CopyToFolder", act.copy_to_folder)
    if act.delete:
        tsub(el, "Delete", "true")
    for name, addrs in (
        ("ForwardAsAttachmentToRecipients", act.forward_as_attachment_to),
        ("ForwardToRecipients", act.forward_to),
    ):
        if addrs:
            _render_addresses(ctx, el, name, addrs)
    if act.mark_importance:
        tsub(el, "MarkImportance", act.mark_importance)
    if act.mark_as_read:
        tsub(el, "MarkAsRead", "true")
    _render_folder(ctx, el, "MoveToFolder", act.move_to_folder)
    if act.permanent_delete:
        tsub(el, "PermanentDelete", "true")
    if act.redirect_to:
        _render_addresses(ctx, el, "RedirectToRecipients", act.redirect_to)
    if act.stop_processing_rules:
        tsub(el, "StopProcessingRules", "true")


def render_rule(ctx: Ctx, parent: Element, rule: Rule) -> None:
    el = tsub(parent, "Rule")
    tsub(el, "RuleId", rule.rule_id)
    tsub(el, "DisplayName", rule.name)
    tsub(el, "Priority", str(rule.priority))
    tsub(el, "IsEnabled", fbool(rule.enabled))
    _render_predicates(ctx, el, "Conditions", rule.conditions)
    _render_predicates(ctx, el, "Exceptions", rule.exceptions)
    _render_actions(ctx, el, rule.actions)


def _owner(ctx: Ctx, req: Element) -> User:
    owner = ctx.store.user(text_of(req, "MailboxSmtpAddress") or ctx.user.address)
    if owner is None:
        raise ItemError("ErrorNonExistentMailbox", NO_MAILBOX)
    if not has_full_access(ctx.user, owner):
        raise ItemError("ErrorAccessDenied", "Access is denied. Check credentials and try again.")
    return owner


def _root(name: str, err: ItemError | None) -> Element:
    root = etree.Element(m(f"{name}Response"), nsmap=BODY_NSMAP)
    if err is None:
        root.set("ResponseClass", "Success")
        msub(root, "ResponseCode", "NoError")
    else:
        root.set("ResponseClass", "Error")
        msub(root, "MessageText", err.message)
        msub(root, "ResponseCode", err.code)
        msub(root, "DescriptiveLinkKey", "0")
    return root


@operation("GetInboxRules")
def get_inbox_rules(ctx: Ctx, req: Element) -> Element:
    try:
        owner = _owner(ctx, req)
    except ItemError as err:
        return _root("GetInboxRules", err)
    root = _root("GetInboxRules", None)
    msub(root, "OutlookRuleBlobExists", "false")
    box = msub(root, "InboxRules")
    for rule in sorted(ctx.store.rules.get(owner.key, []), key=lambda r: r.priority):
        render_rule(ctx, box, rule)
    return root


@operation("UpdateInboxRules")
def update_inbox_rules(ctx: Ctx, req: Element) -> Element:
    try:
        owner = _owner(ctx, req)
        rules = {r.rule_id: r for r in ctx.store.rules.get(owner.key, [])}
        for op in children(child(req, "Operations")):
            _apply(ctx, op, rules)
    except ItemError as err:
        return _root("UpdateInboxRules", err)
    with ctx.store.lock:
        ctx.store.rules[owner.key] = list(rules.values())
    return _root("UpdateInboxRules", None)


def _apply(ctx: Ctx, op: Element, rules: dict[str, Rule]) -> None:
    kind = local(op)
    if kind == "CreateRuleOperation":
        rule = parse_rule(ctx, child(op, "Rule"), new_rule_id())  # type: ignore[arg-type]
        rules[rule.rule_id] = rule
    elif kind == "SetRuleOperation":
        rule = parse_rule(ctx, child(op, "Rule"))  # type: ignore[arg-type]
        if rule.rule_id not in rules:
            raise ItemError("ErrorRuleNotFound", f"The rule {rule.rule_id} was not found.")
        rules[rule.rule_id] = rule
    elif kind == "DeleteRuleOperation":
        rule_id = text_of(op, "RuleId") or ""
        if rules.pop(rule_id, None) is None:
            raise ItemError("ErrorRuleNotFound", f"The rule {rule_id} was not found.")

"""Directory and delegation: ResolveNames, GetDelegate, AddDelegate, UpdateDelegate, RemoveDelegate.

AddDelegate grants the delegate folder levels and, as in Exchange, Send On Behalf (publicDelegates);
RemoveDelegate takes both away.
"""

from __future__ import annotations

from router.simulator.model import DELEGATE_FOLDERS, Delegate, FolderLevel, User
from router.simulator.operations.base import (
    NO_MAILBOX,
    Ctx,
    ItemError,
    failed,
    failure,
    operation,
    response_root,
    success,
)
from router.simulator.permissions import has_full_access
from router.simulator.xml import Element, child, children, fbool, msub, text_of, tsub, xbool


@operation("ResolveNames")
def resolve_names(ctx: Ctx, req: Element) -> Element:
    root, msgs = response_root("ResolveNames")
    query = (text_of(req, "UnresolvedEntry", "") or "").lower().removeprefix("smtp:")
    found = [
        u
        for u in ctx.store.users.values()
        if query
        and (
            u.key == query
            or u.name.lower().startswith(query)
            or u.key.startswith(query)
            or any(a.lower() == query for a in u.aliases)
        )
    ]
    exact = [u for u in found if u.key == query or any(a.lower() == query for a in u.aliases)]
    found = exact or found
    if not found:
        failure(msgs, "ResolveNames", "ErrorNameResolutionNoResults", "No results were found.")
        return root
    if len(found) > 1:
        msg = failure(
            msgs,
            "ResolveNames",
            "ErrorNameResolutionMultipleResults",
            "Multiple results were found.",
            "Warning",
        )
    else:
        msg = success(msgs, "ResolveNames")
    rs = msub(msg, "ResolutionSet", TotalItemsInView=str(len(found)), IncludesLastItemInRange="true")
    full = xbool(req.get("ReturnFullContactData"))
    for user in found[:100]:
        res = tsub(rs, "Resolution")
        ctx.renderer.mailbox(res, "Mailbox", user.as_address())
        if full:
            contact = tsub(res, "Contact")
            tsub(contact, "DisplayName", user.name)
            emails = tsub(contact, "EmailAddresses")
            tsub(emails, "Entry", f"SMTP:{user.address}", Key="EmailAddress1")
            tsub(contact, "ContactSource", "ActiveDirectory")
    return root


def _principal(ctx: Ctx, req: Element) -> User:
    address = text_of(child(req, "Mailbox"), "EmailAddress") or ctx.user.address
    owner = ctx.store.user(address)
    if owner is None:
        raise ItemError("ErrorNonExistentMailbox", NO_MAILBOX)
    if not has_full_access(ctx.user, owner):
        raise ItemError("ErrorAccessDenied", "Access is denied. Check credentials and try again.")
    return owner


def _user_of(ctx: Ctx, user_id: Element | None) -> User:
    address = text_of(user_id, "PrimarySmtpAddress")
    sid = text_of(user_id, "SID")
    if address:
        found = ctx.store.user(address)
    elif sid:
        found = next((u for u in ctx.store.users.values() if u.sid == sid), None)
        if found is None:
            raise ItemError("ErrorInvalidUserSid", "The user SID is invalid or does not map to a user.")
    else:
        found = None
    if found is None:
        raise ItemError("ErrorDelegateNoUser", "The delegate does not map to a user in the directory.")
    return found


def _render_delegate(ctx: Ctx, parent: Element, user: User, delegate: Delegate, with_perms: bool) -> None:
    du = msub(parent, "DelegateUser")
    uid = tsub(du, "UserId")
    tsub(uid, "SID", user.sid)
    tsub(uid, "PrimarySmtpAddress", user.address)
    tsub(uid, "DisplayName", user.name)
    if with_perms:
        perms = tsub(du, "DelegatePermissions")
        for el_name, folder in DELEGATE_FOLDERS.items():
            tsub(perms, el_name, delegate.levels.get(folder, FolderLevel.NONE).value)
    tsub(du, "ReceiveCopiesOfMeetingMessages", fbool(delegate.receive_copies_of_meeting_messages))
    tsub(du, "ViewPrivateItems", fbool(delegate.view_private_items))


def _parse_delegate(ctx: Ctx, du: Element) -> tuple[User, Delegate]:
    user = _user_of(ctx, child(du, "UserId"))
    levels = {
        folder: FolderLevel(text_of(child(du, "DelegatePermissions"), el_name) or "None")
        for el_name, folder in DELEGATE_FOLDERS.items()
        if text_of(child(du, "DelegatePermissions"), el_name)
    }
    return user, Delegate(
        user.key,
        levels,
        xbool(text_of(du, "ReceiveCopiesOfMeetingMessages")),
        xbool(text_of(du, "ViewPrivateItems")),
    )


def _run_delegate_op(ctx: Ctx, req: Element, name: str, per_user: list[Element], act: object) -> Element:
    from collections.abc import Callable

    assert callable(act)
    action: Callable[[User, Element], tuple[User, Delegate] | None] = act
    root = response_root(name)[0]
    root.remove(root[0])
    try:
        owner = _principal(ctx, req)
    except ItemError as err:
        root.set("ResponseClass", "Error")
        msub(root, "MessageText", err.message)
        msub(root, "ResponseCode", err.code)
        msub(root, "DescriptiveLinkKey", "0")
        return root
    root.set("ResponseClass", "Success")
    msub(root, "ResponseCode", "NoError")
    msgs = msub(root, "ResponseMessages")
    for el in per_user:
        try:
            result = action(owner, el)
        except ItemError as err:
            failed(msgs, "DelegateUser", err)
            continue
        msg = success(msgs, "DelegateUser")
        if result is not None:
            _render_delegate(ctx, msg, result[0], result[1], True)
    if name == "GetDelegate":
        msub(root, "DeliverMeetingRequests", owner.deliver_meeting_requests)
    return root


@operation("GetDelegate")
def get_delegate(ctx: Ctx, req: Element) -> Element:
    owner = ctx.store.user(text_of(child(req, "Mailbox"), "EmailAddress") or ctx.user.address)
    wanted = children(child(req, "UserIds"))
    if not wanted and owner is not None:
        from lxml import etree

        holder = etree.Element("UserIds")
        for key in owner.delegates:
            uid = etree.SubElement(holder, "UserId")
            etree.SubElement(uid, "PrimarySmtpAddress").text = ctx.store.users[key].address
        wanted = list(holder)

    def get(principal: User, el: Element) -> tuple[User, Delegate]:
        user = _user_of(ctx, el)
        if user.key not in principal.delegates:
            raise ItemError("ErrorNotDelegate", "The specified user is not a delegate.")
        return user, principal.delegates[user.key]

    return _run_delegate_op(ctx, req, "GetDelegate", wanted, get)


@operation("AddDelegate")
def add_delegate(ctx: Ctx, req: Element) -> Element:
    def add(principal: User, el: Element) -> tuple[User, Delegate]:
        user, delegate = _parse_delegate(ctx, el)
        if user.key == principal.key:
            raise ItemError(
                "ErrorDelegateCannotAddOwner", "The owner of the mailbox cannot be added as a delegate."
            )
        if user.key in principal.delegates:
            raise ItemError("ErrorDelegateAlreadyExists", "The delegate already exists.")
        with ctx.store.lock:
            principal.delegates[user.key] = delegate
        return user, delegate

    mode = text_of(req, "DeliverMeetingRequests")
    root = _run_delegate_op(ctx, req, "AddDelegate", children(child(req, "DelegateUsers")), add)
    owner = ctx.store.user(text_of(child(req, "Mailbox"), "EmailAddress") or ctx.user.address)
    if mode and owner is not None:
        owner.deliver_meeting_requests = mode
    return root


@operation("UpdateDelegate")
def update_delegate(ctx: Ctx, req: Element) -> Element:
    def update(principal: User, el: Element) -> tuple[User, Delegate]:
        user, delegate = _parse_delegate(ctx, el)
        if user.key not in principal.delegates:
            raise ItemError("ErrorNotDelegate", "The specified user is not a delegate.")
        principal.delegates[user.key].levels.update(delegate.levels)
        return user, principal.delegates[user.key]

    return _run_delegate_op(ctx, req, "UpdateDelegate", children(child(req, "DelegateUsers")), update)


@operation("RemoveDelegate")
def remove_delegate(ctx: Ctx, req: Element) -> Element:
    def remove(principal: User, el: Element) -> None:
        user = _user_of(ctx, el)
        if principal.delegates.pop(user.key, None) is None:
            raise ItemError("ErrorNotDelegate", "The specified user is not a delegate.")
        return None

    return _run_delegate_op(ctx, req, "RemoveDelegate", children(child(req, "UserIds")), remove)

"""What every operation shares: the request context, the registry, response messages and id resolution.

An operation is a function ``(ctx, request_element) -> response_element`` registered under its EWS
name. Per-item failures are raised as ItemError inside the per-item step and written as that item's
ResponseMessage, so one bad id never fails the batch, and responses stay one per input, in order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from lxml import etree

from router.simulator import ids
from router.simulator.config import ServerConfig
from router.simulator.model import Folder, FolderLevel, Item, User
from router.simulator.permissions import Principal, can, can_see_folder
from router.simulator.shapes import Renderer
from router.simulator.soap import SoapRequest
from router.simulator.store import Store
from router.simulator.xml import BODY_NSMAP, Element, child, m, msub, text_of


@dataclass
class Ctx:
    """One EWS request being served."""

    store: Store
    config: ServerConfig
    principal: Principal
    user: User
    request: SoapRequest
    impersonated: bool = False
    anchor: str | None = None
    renderer: Renderer = field(init=False)

    def __post_init__(self) -> None:
        self.renderer = Renderer(self.store)


class ItemError(Exception):
    """One input's failure, reported in its own ResponseMessage."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


Handler = Callable[[Ctx, Element], Element]
OPERATIONS: dict[str, Handler] = {}


def operation(name: str) -> Callable[[Handler], Handler]:
    """Register a handler for the EWS operation ``name``."""

    def register(fn: Handler) -> Handler:
        OPERATIONS[name] = fn
        return fn

    return register


def response_root(name: str) -> tuple[Element, Element]:
    """Create ``m:<name>Response`` and its ``m:ResponseMessages`` container."""
    root = etree.Element(m(f"{name}Response"), nsmap=BODY_NSMAP)
    return root, msub(root, "ResponseMessages")


def _message_name(name: str) -> str:
    # The schema names the delegate operations' per-user element after its type.
    return "DelegateUserResponseMessageType" if name == "DelegateUser" else f"{name}ResponseMessage"


def success(parent: Element, name: str) -> Element:
    msg = msub(parent, _message_name(name), ResponseClass="Success")
    msub(msg, "ResponseCode", "NoError")
    return msg


def failure(parent: Element, name: str, code: str, text: str, klass: str = "Error") -> Element:
    msg = msub(parent, _message_name(name), ResponseClass=klass)
    msub(msg, "MessageText", text)
    msub(msg, "ResponseCode", code)
    msub(msg, "DescriptiveLinkKey", "0")
    return msg


def failed(parent: Element, name: str, err: ItemError) -> Element:
    """The error response message of one input that raised ``err``."""
    return failure(parent, name, err.code, err.message)


NOT_FOUND = "The specified object was not found in the store."
ACCESS_DENIED = "Access is denied. Check credentials and try again."
MALFORMED = "Id is malformed."
NO_MAILBOX = "The SMTP address has no mailbox associated with it."


def owner_of(ctx: Ctx, folder: Folder) -> User:
    return ctx.store.users[folder.mailbox]


def require(ctx: Ctx, folder: Folder, need: FolderLevel) -> None:
    """Raise ErrorAccessDenied unless the acting user holds ``need`` on ``folder``."""
    if not can(ctx.user, owner_of(ctx, folder), folder, need):
        raise ItemError("ErrorAccessDenied", ACCESS_DENIED)


def resolve_folder(ctx: Ctx, el: Element, *, visible_only: bool = True) -> Folder:
    """Resolve a t:FolderId or t:DistinguishedFolderId (with optional t:Mailbox) to a folder."""
    name = etree.QName(el).localname
    if name == "DistinguishedFolderId":
        mailbox = text_of(child(el, "Mailbox"), "EmailAddress") or ctx.user.address
        if ctx.store.user(mailbox) is None:
            raise ItemError("ErrorNonExistentMailbox", NO_MAILBOX)
        folder = ctx.store.distinguished(mailbox, el.get("Id", ""))
        if folder is None:
            raise ItemError("ErrorFolderNotFound", "The specified folder could not be found in the store.")
    elif name == "FolderId":
        try:
            oid = ids.decode(el.get("Id", ""))
        except ids.MalformedIdError as exc:
            raise ItemError("ErrorInvalidIdMalformed", MALFORMED) from exc
        found = ctx.store.folder(oid.uid) if oid.kind is ids.IdKind.FOLDER else None
        if found is None:
            raise ItemError("ErrorFolderNotFound", "The specified folder could not be found in the store.")
        folder = found
    else:
        raise ItemError("ErrorInvalidRequest", f"'{name}' is not a folder id.")
    if visible_only and not can_see_folder(ctx.user, owner_of(ctx, folder), folder):
        raise ItemError("ErrorAccessDenied", ACCESS_DENIED)
    return folder


def decode_item_id(el: Element) -> bytes:
    try:
        oid = ids.decode(el.get("Id", ""))
    except ids.MalformedIdError as exc:
        raise ItemError("ErrorInvalidIdMalformed", MALFORMED) from exc
    if oid.kind is not ids.IdKind.ITEM:
        raise ItemError("ErrorInvalidIdMalformed", MALFORMED)
    return oid.uid


def resolve_item(ctx: Ctx, el: Element, need: FolderLevel = FolderLevel.REVIEWER) -> Item:
    """Resolve a t:ItemId to a stored item the acting user may use at level ``need``."""
    item = ctx.store.item(decode_item_id(el))
    if item is None:
        raise ItemError("ErrorItemNotFound", NOT_FOUND)
    require(ctx, item.folder, need)
    return item


def check_change_key(item: Item, el: Element) -> bool:
    """Return whether the ChangeKey sent with ``el`` (if any) is current; raise on a malformed one."""
    key = el.get("ChangeKey")
    if not key:
        return True
    try:
        return ids.change_key_version(item.uid, key) == item.version
    except ids.MalformedIdError as exc:
        raise ItemError("ErrorInvalidChangeKey", "The change key is invalid.") from exc

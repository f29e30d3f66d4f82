"""Who may do what: mailbox and folder access, impersonation, and the Send As / Send On Behalf decision.

These are the server-side decisions Exchange makes; clients cannot influence them except by who they
authenticate as. Send As is checked before Send On Behalf (a caller holding both sends as), and
FullAccess or folder rights never grant a send right.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from router.simulator.model import App, Folder, FolderLevel, User


class SendRight(Enum):
    """The outcome of the submission check."""

    SEND_AS = "SendAs"
    SEND_ON_BEHALF = "SendOnBehalf"
    DENIED = "Denied"


def send_right(caller: User, principal: User) -> SendRight:
    """Decide how ``caller`` may send with From = ``principal`` (gromox/Exchange order: owner, Send As,
    delegate or GrantSendOnBehalfTo, else denied)."""
    if caller.key == principal.key or caller.key in principal.send_as:
        return SendRight.SEND_AS
    if caller.key in principal.send_on_behalf or caller.key in principal.delegates:
        return SendRight.SEND_ON_BEHALF
    return SendRight.DENIED


def has_full_access(caller: User, owner: User) -> bool:
    return caller.key == owner.key or caller.key in owner.full_access


def folder_level(caller: User, owner: User, folder: Folder) -> FolderLevel:
    """The caller's effective level on one folder: Editor for the owner and FullAccess holders, the
    delegate level for the delegate folders, else None."""
    if has_full_access(caller, owner):
        return FolderLevel.EDITOR
    delegate = owner.delegates.get(caller.key)
    if delegate is None or folder.distinguished is None:
        return FolderLevel.NONE
    return delegate.levels.get(folder.distinguished, FolderLevel.NONE)


def can_see_folder(caller: User, owner: User, folder: Folder) -> bool:
    """Folder properties are visible to anyone with a level on it; a delegate also sees the roots, as
    Outlook's delegate wizard grants "folder visible" on the top of the store."""
    if folder_level(caller, owner, folder) is not FolderLevel.NONE:
        return True
    return caller.key in owner.delegates and folder.distinguished in ("root", "msgfolderroot")


def can(caller: User, owner: User, folder: Folder, need: FolderLevel) -> bool:
    """Whether the caller holds at least ``need`` on ``folder``."""
    return folder_level(caller, owner, folder).rank >= need.rank


@dataclass(frozen=True)
class Principal:
    """The authenticated party: a user, or an application holding an app-only token."""

    user: User | None = None
    app: App | None = None

    @property
    def name(self) -> str:
        if self.user is not None:
            return self.user.address
        return f"app:{self.app.client_id}" if self.app else "anonymous"


def may_impersonate(principal: Principal, target: User) -> bool:
    """ApplicationImpersonation (users) or full_access_as_app (applications), within their scope."""
    if principal.user is not None:
        u = principal.user
        return u.application_impersonation and (
            u.impersonation_scope is None or target.key in u.impersonation_scope
        )
    if principal.app is not None:
        a = principal.app
        return a.full_access_as_app and (a.scope is None or target.key in a.scope)
    return False

"""One incoming lane's connection to its mailbox: the exchangelib account and the folders it uses.

A ``MailboxSession`` is opened once per lane and kept between runs (exchangelib shares connection
pools per endpoint and credentials, so keeping it costs nothing). When talking to the server fails
in a way that says the endpoint itself is wrong or gone, the lane calls ``endpoint_failed``: the
account factory forgets the Autodiscover answer and the next run opens a fresh session, which
discovers again.

Folder paths are display names separated by ``/`` from the top of the mailbox; a first name of
``Inbox`` means the well-known Inbox whatever its localised name. Resolved folders are cached.
``sync_folder`` names a well-known folder itself (the usual ``Inbox``) by its distinguished id,
without asking for it first: a lane's first run then costs one SyncFolderItems, not two GetFolder
calls (the root, then the Inbox) before it, which for 10,000 mailboxes is 20,000 requests saved at
start-up; a mailbox that is not there fails the SyncFolderItems the same way. (Subscriptions need the
folder's real id, so ``folder`` still resolves it.)
"""

from __future__ import annotations

from typing import Any

from exchangelib.account import Account
from exchangelib.folders import DeletedItems, Folder, Inbox, JunkEmail, Root, SentItems
from exchangelib.properties import DistinguishedFolderId, Mailbox

from router.errors import PermanentTransportError, TransportError
from router.ews import AccountFactory, ConnectionSpec, ews_errors
from router.ews.errors import FOLDER

WELL_KNOWN = {"inbox": "inbox", "deleted items": "trash", "junk email": "junk", "sent items": "sent"}
"""First path names that mean a well-known folder, whatever the mailbox's language calls it."""
_DISTINGUISHED: dict[str, type[Folder]] = {"inbox": Inbox, "trash": DeletedItems, "junk": JunkEmail,
                                          "sent": SentItems}


class MailboxSession:
    """An open mailbox: its account, folders by path, and web links to its items."""

    def __init__(self, accounts: AccountFactory, spec: ConnectionSpec) -> None:
        self.spec = spec
        self.mailbox = spec.mailbox.lower()
        self._accounts = accounts
        self.account: Account = accounts.account(spec)
        self._folders: dict[str, Any] = {}

    def folder(self, path: str) -> Any:
        """The folder at ``path`` (cached); a PermanentTransportError naming it when it does not exist."""
        key = path.strip().lower()
        found = self._folders.get(key)
        if found is None:
            with ews_errors(mailbox=self.mailbox):
                found = self._resolve(path)
            self._folders[key] = found
        return found

    def sync_folder(self, path: str) -> Any:
        """The folder at ``path`` for SyncFolderItems: a well-known one by its distinguished id alone."""
        names = [part.strip().lower() for part in path.split("/") if part.strip()]
        well_known = WELL_KNOWN.get(names[0]) if len(names) == 1 else None
        if well_known is None:
            return self.folder(path)
        key = f"distinguished:{well_known}"
        found = self._folders.get(key)
        if found is None:
            found = self._folders[key] = self._distinguished(well_known)
        return found

    def _resolve(self, path: str) -> Any:
        names = [part.strip() for part in path.split("/") if part.strip()]
        well_known = WELL_KNOWN.get(names[0].lower())
        if well_known is not None:
            current: Folder = getattr(self.account, well_known)
            names = names[1:]
        else:
            current = self.account.msg_folder_root
        for name in names:
            match = next((c for c in current.children if str(c.name).lower() == name.lower()), None)
            if match is None:
                raise PermanentTransportError(
                    f"the folder {path!r} does not exist in mailbox {self.mailbox} (no {name!r} in "
                    f"{current.name!r})", code="ErrorFolderNotFound", hint=FOLDER, mailbox=self.mailbox)
            current = match
        return current

    def _distinguished(self, attribute: str) -> Any:
        """The well-known folder exchangelib's ``account.<attribute>`` means, by distinguished id only."""
        folder_class = _DISTINGUISHED[attribute]
        mailbox = Mailbox(email_address=self.account.primary_smtp_address)
        root = Root(account=self.account,
                    _distinguished_id=DistinguishedFolderId(id=Root.DISTINGUISHED_FOLDER_ID, mailbox=mailbox))
        return folder_class(root=root, _distinguished_id=DistinguishedFolderId(
            id=folder_class.DISTINGUISHED_FOLDER_ID, mailbox=mailbox))

    def endpoint_failed(self, error: TransportError) -> bool:
        """Report a failure; True when the Autodiscover answer was dropped and the session must reopen."""
        return self._accounts.endpoint_failed(self.spec, error)

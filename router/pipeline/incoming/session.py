"""One incoming lane's connection to its mailbox: the exchangelib account and the folders it uses.

A ``MailboxSession`` is opened once per lane and kept between runs (exchangelib shares connection
pools per endpoint and credentials, so keeping it costs nothing). When talking to the server fails
in a way that says the endpoint itself is wrong or gone, the lane calls ``endpoint_failed``: the
account factory forgets the Autodiscover answer and the next run opens a fresh session, which
discovers again.

Folder paths are display names separated by ``/`` from the top of the mailbox; a first name of
``Inbox`` means the well-known Inbox whatever its localised name. Resolved folders are cached.
"""

from __future__ import annotations

from typing import Any

from exchangelib.account import Account
from exchangelib.folders import Folder

from router.errors import PermanentTransportError, TransportError
from router.ews import AccountFactory, ConnectionSpec, ews_errors
from router.ews.errors import FOLDER

WELL_KNOWN = {"inbox": "inbox", "deleted items": "trash", "junk email": "junk", "sent items": "sent"}
"""First path names that mean a well-known folder, whatever the mailbox's language calls it."""


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

    def endpoint_failed(self, error: TransportError) -> bool:
        """Report a failure; True when the Autodiscover answer was dropped and the session must reopen."""
        return self._accounts.endpoint_failed(self.spec, error)

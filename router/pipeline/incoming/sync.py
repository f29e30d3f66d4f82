"""Finding new mail: one SyncFolderItems page of the lane's folder, from the saved sync state.

Each call asks Exchange for at most ``batch_size`` changes after the state saved in the state store
(none saved: a full synchronisation, which reports every item in the folder as created). Only
creations matter; updates (including the router's own acknowledgements), deletions and read-flag
changes are ignored. The page asks for ids only plus the two properties that decide whether an item
is fetched at all: when it was received (items before the process-from date are history, never
imported) and its item class.

The new state is *returned*, not saved: the lane saves it once every item of the page has a ledger
row, so a crash before that re-reads the same page and the ledger recognises what it has seen.
A state Exchange no longer accepts (``ErrorInvalidSyncStateData``) is forgotten and the folder
synchronised again from the start; the ledger and the CRM's duplicate check make that harmless.

exchangelib 5.6's SyncFolderItems reads ``m:SyncState`` before it looks at the response class, so an
error response (which has none) surfaces as an ``AttributeError`` instead of the EWS error.
``_SyncFolderItems`` checks the response class first, letting exchangelib raise the named error.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from exchangelib.errors import EWSError
from exchangelib.items import ID_ONLY
from exchangelib.services import SyncFolderItems
from exchangelib.services.common import EWSService
from exchangelib.util import MNS

from router.errors import TransientTransportError, TransportError
from router.ews import ews_errors
from router.pipeline.incoming.contract_session import ContractSession, LaneSession
from router.pipeline.incoming.session import MailboxSession
from router.state import StateStore

log = logging.getLogger(__name__)

SYNC_FIELDS = ("datetime_received", "item_class")
INVALID_STATE = "ErrorInvalidSyncStateData"


class _SyncFolderItems(SyncFolderItems):  # type: ignore[misc]
    """SyncFolderItems that reports error responses as their EWS error (see the module docstring)."""

    def _get_element_container(self, message: Any, name: Any = None) -> Any:
        if message.find(f"{{{MNS}}}SyncState") is None:
            return EWSService._get_element_container(self, message=message, name=name)
        return super()._get_element_container(message=message, name=name)


@dataclass(frozen=True)
class ItemRef:
    """A new item as the sync page saw it: its id and change key, when it arrived, and its class."""

    item_id: str
    changekey: str | None
    received: datetime | None
    item_class: str


@dataclass(frozen=True)
class SyncPage:
    """One page of changes: the items created, the state after it, and whether more pages follow."""

    created: tuple[ItemRef, ...]
    state: str | None
    more: bool


def sync_page(session: LaneSession, store: StateStore, folder_path: str, batch_size: int) -> SyncPage:
    """Read the next page of changes of ``folder_path``; reset and restart on an invalid sync state."""
    if isinstance(session, ContractSession):
        return _contract_page(session, store, folder_path, batch_size)
    state = store.sync.get_state(session.mailbox, folder_path)
    try:
        return _read_page(session, folder_path, state, batch_size)
    except TransportError as exc:
        if exc.code != INVALID_STATE or state is None:
            raise
    log.warning("Exchange refused the saved sync state of %s %s; synchronising the folder again from "
                "the start (the ledger recognises messages already processed)", session.mailbox, folder_path)
    store.sync.reset(session.mailbox, folder_path)
    return _read_page(session, folder_path, None, batch_size)


def _contract_page(session: ContractSession, store: StateStore, folder_path: str,
                   batch_size: int) -> SyncPage:
    """The same page through the mailbox-session contract (Graph: a delta page; its link is the state).

    Graph's delta reports changed messages beside new ones (the router's own acknowledgement, say);
    they are fetched again and the ledger recognises them, as after a reset.
    """
    state = store.sync.get_state(session.mailbox, folder_path)
    page = session.contract.sync_page(state, max_changes=batch_size)
    if page.reset:
        if state is None:
            raise TransientTransportError(f"the server refused to synchronise {folder_path} of "
                                          f"{session.mailbox} from the start", mailbox=session.mailbox)
        log.warning("the server refused the saved sync state of %s %s; synchronising the folder again from "
                    "the start (the ledger recognises messages already processed)",
                    session.mailbox, folder_path)
        store.sync.reset(session.mailbox, folder_path)
        page = session.contract.sync_page(None, max_changes=batch_size)
    created = tuple(ItemRef(item_id=r.id, changekey=None, received=r.received, item_class="")
                    for r in page.items)
    return SyncPage(created, page.state, page.more)


def _read_page(session: MailboxSession, folder_path: str, state: str | None, batch_size: int) -> SyncPage:
    folder = session.folder(folder_path)
    with ews_errors(mailbox=session.mailbox):
        fields = {f for f in folder.normalize_fields(fields=SYNC_FIELDS) if not f.field.is_attribute}
        service = _SyncFolderItems(account=session.account)
        changes = list(service.call(folder=folder, shape=ID_ONLY, additional_fields=fields, sync_state=state,
                                    ignore=None, max_changes_returned=batch_size, sync_scope=None))
        for change in changes:
            if isinstance(change, EWSError):
                raise change
    created = tuple(_ref(item) for kind, item in changes if kind == SyncFolderItems.CREATE)
    more = not service.includes_last_item_in_range and service.sync_state != state
    return SyncPage(created, service.sync_state, more)


def _ref(item: object) -> ItemRef:
    received = getattr(item, "datetime_received", None)
    return ItemRef(item_id=str(getattr(item, "id", "")), changekey=getattr(item, "changekey", None),
                   received=plain_utc(received),
                   item_class=str(getattr(item, "item_class", None) or ""))


def plain_utc(value: object) -> datetime | None:
    """An aware UTC ``datetime`` from exchangelib's ``EWSDateTime`` (other libraries refuse its tzinfo)."""
    if not isinstance(value, datetime):
        return None
    return datetime.fromtimestamp(value.timestamp(), tz=UTC)

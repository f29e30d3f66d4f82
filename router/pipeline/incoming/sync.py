"""Finding new mail: one SyncFolderItems page of the lane's folder, from the saved sync state.

Each call asks Exchange for at most ``batch_size`` changes after the state saved in the state store
(none saved: a full synchronisation, which reports every item in the folder as created). Only
creations matter; updates (including the router's own acknowledgements), deletions and read-flag
changes are ignored. The page asks for ids only plus the two properties that decide whether an item
is fetched at all: when it was received (items before the process-from date are history, never
imported) and its item class.

The new state is *returned*, not saved: the lane saves it once every item of the page has a ledger
row, so a crash before that re-reads the same page and the ledger recognises what it has seen. A page
that reported no change at all after a saved state (every idle sweep) need not be saved
(``SyncPage.moved`` is false): the saved state still stands where the folder is, so a sweep that finds
nothing costs the state store no write.
A state Exchange no longer accepts (``ErrorInvalidSyncStateData``) is forgotten and the folder
synchronised again from the start; the ledger and the CRM's duplicate check make that harmless.
The call itself (and exchangelib 5.6's error-response fix) is ``router.ews.sync``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from router.errors import TransientTransportError, TransportError
from router.ews.sync import CREATE, INVALID_STATE, plain_utc, sync_changes
from router.mailbox.session import ItemRef as ContractRef
from router.pipeline.incoming.contract_session import ContractSession, LaneSession
from router.pipeline.incoming.session import MailboxSession
from router.state import StateStore
from router.state.keys import normalize_message_id

log = logging.getLogger(__name__)

SYNC_FIELDS = ("datetime_received", "item_class")


@dataclass(frozen=True)
class ItemRef:
    """A new item as the sync page saw it: its id and change key, when it arrived, and its class."""

    item_id: str
    changekey: str | None
    received: datetime | None
    item_class: str


@dataclass(frozen=True)
class SyncPage:
    """One page of changes: the items created, the state after it, and whether more pages follow;
    ``moved`` is false when the page reported no change after a saved state (nothing to save)."""

    created: tuple[ItemRef, ...]
    state: str | None
    more: bool
    moved: bool = True


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
    those whose Message-ID the ledger has finished are left out (no MIME fetched again); the ledger
    recognises any other it has seen, as after a reset.
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
    items = _unfinished(store, session.mailbox, page.items)
    created = tuple(ItemRef(item_id=r.id, changekey=None, received=r.received, item_class="")
                    for r in items)
    return SyncPage(created, page.state, page.more, moved=_moved(state, page.state, len(page.items)))


def _unfinished(store: StateStore, mailbox: str, items: list[ContractRef]) -> list[ContractRef]:
    """Leave out the items whose Message-ID the ledger has finished: Graph's delta reports a message
    again after our own acknowledgement (PATCH of categories / isRead), and fetching its MIME only for
    the ledger to say "final" costs a request and a download per message."""
    keys = {r.id: normalize_message_id(r.message_id) for r in items}
    finished = store.ledger.finished_keys(mailbox, [k for k in keys.values() if k is not None])
    if not finished:
        return items
    log.debug("%s: %d changed messages the ledger has finished are not fetched again", mailbox,
              sum(1 for k in keys.values() if k in finished))
    return [r for r in items if keys[r.id] not in finished]


def _read_page(session: MailboxSession, folder_path: str, state: str | None, batch_size: int) -> SyncPage:
    page = sync_changes(session.account, session.sync_folder(folder_path), state, batch_size, SYNC_FIELDS,
                        mailbox=session.mailbox)
    created = tuple(_ref(item) for kind, item in page.changes if kind == CREATE)
    return SyncPage(created, page.state, page.more, moved=_moved(state, page.state, len(page.changes)))


def _moved(before: str | None, after: str | None, changes: int) -> bool:
    """True when the state after a page must be saved: it reported changes, or none was saved yet."""
    return changes > 0 or before is None or after is None


def _ref(item: object) -> ItemRef:
    received = getattr(item, "datetime_received", None)
    return ItemRef(item_id=str(getattr(item, "id", "")), changekey=getattr(item, "changekey", None),
                   received=plain_utc(received),
                   item_class=str(getattr(item, "item_class", None) or ""))

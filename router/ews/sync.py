"""One SyncFolderItems page through exchangelib, for every caller (the incoming lane and ``EwsSession``).

exchangelib 5.6's SyncFolderItems reads ``m:SyncState`` before it looks at the response class, so an
error response (which has none) surfaces as an ``AttributeError`` instead of the EWS error.
``_SyncFolderItems`` checks the response class first, letting exchangelib raise the named error, which
``ews_errors`` turns into the router's (``ErrorInvalidSyncStateData`` keeps its code for a reset).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from exchangelib.errors import EWSError
from exchangelib.items import ID_ONLY
from exchangelib.services import SyncFolderItems
from exchangelib.services.common import EWSService
from exchangelib.util import MNS

from router.ews.errors import ews_errors
from router.ews.light import read_item

INVALID_STATE = "ErrorInvalidSyncStateData"
CREATE, UPDATE, DELETE = SyncFolderItems.CREATE, SyncFolderItems.UPDATE, SyncFolderItems.DELETE


class _SyncFolderItems(SyncFolderItems):  # type: ignore[misc]
    """SyncFolderItems that reports error responses as their EWS error (see the module docstring), and
    reads created and updated items as ``LightItem`` objects of the requested fields (``light``)."""

    light_fields: Sequence[Any] = ()

    def _get_element_container(self, message: Any, name: Any = None) -> Any:
        if message.find(f"{{{MNS}}}SyncState") is None:
            return EWSService._get_element_container(self, message=message, name=name)
        return super()._get_element_container(message=message, name=name)

    def _elem_to_obj(self, elem: Any) -> tuple[str, Any]:
        change_type = self.change_types_map[elem.tag]
        if change_type not in (CREATE, UPDATE):
            return super()._elem_to_obj(elem)  # type: ignore[no-any-return]
        # The change element holds one item element, whose tag names the item type.
        return change_type, read_item(elem[0], self.light_fields, self.account)


@dataclass(frozen=True)
class Changes:
    """One page: (kind, item) pairs, the state after it, and whether more pages follow."""

    changes: list[tuple[str, Any]]
    state: str | None
    more: bool


def sync_changes(account: Any, folder: Any, state: str | None, max_changes: int, fields: Iterable[str],
                 *, mailbox: str) -> Changes:
    """One SyncFolderItems call on ``folder`` (ids plus ``fields``) after ``state``; errors are ours.

    Created and updated items are ``LightItem`` objects (id, change key and ``fields``); deletions are
    exchangelib's ``ItemId``, read-flag changes its (``ItemId``, bool) pair."""
    with ews_errors(mailbox=mailbox):
        extra = {f for f in folder.normalize_fields(fields=tuple(fields)) if not f.field.is_attribute}
        service = _SyncFolderItems(account=account)
        service.light_fields = [path.field for path in extra]
        changes = list(service.call(folder=folder, shape=ID_ONLY, additional_fields=extra, sync_state=state,
                                    ignore=None, max_changes_returned=max_changes, sync_scope=None))
        for change in changes:
            if isinstance(change, EWSError):
                raise change
    more = not service.includes_last_item_in_range and service.sync_state != state
    return Changes(changes, service.sync_state, more)


def plain_utc(value: object) -> datetime | None:
    """An aware UTC ``datetime`` from exchangelib's ``EWSDateTime`` (other libraries refuse its tzinfo)."""
    if not isinstance(value, datetime):
        return None
    return datetime.fromtimestamp(value.timestamp(), tz=UTC)

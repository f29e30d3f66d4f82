"""One SyncFolderItems page through exchangelib, for every caller (the incoming lane and ``EwsSession``).

exchangelib 5.6's SyncFolderItems reads ``m:SyncState`` before it looks at the response class, so an
error response (which has none) surfaces as an ``AttributeError`` instead of the EWS error.
``_SyncFolderItems`` checks the response class first, letting exchangelib raise the named error, which
``ews_errors`` turns into the router's (``ErrorInvalidSyncStateData`` keeps its code for a reset).

Every idle sweep of every mailbox sends one SyncFolderItems, and exchangelib builds its request from
scratch each time (the payload's elements, then the SOAP envelope, serialised): at 10,000 mailboxes that
was about a tenth of the router's idle CPU, for a request that differs from the previous one of the same
folder only in its ``m:SyncState``. ``RequestTemplates`` keeps, per folder object, the request exchangelib
built once with a placeholder state, and each call puts its own state in (XML-escaped) - the same bytes
exchangelib would send; headers, retries, version negotiation and response handling stay exchangelib's.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from xml.sax.saxutils import escape

from exchangelib.errors import EWSError
from exchangelib.items import ID_ONLY
from exchangelib.services import SyncFolderItems
from exchangelib.services.common import EWSService
from exchangelib.util import MNS

from router.ews.errors import ews_errors
from router.ews.light import read_item

INVALID_STATE = "ErrorInvalidSyncStateData"
CREATE, UPDATE, DELETE = SyncFolderItems.CREATE, SyncFolderItems.UPDATE, SyncFolderItems.DELETE


_PLACEHOLDER = "router-sync-state-placeholder"
_STATE_ELEMENT = f"<m:SyncState>{_PLACEHOLDER}</m:SyncState>".encode()


class RequestTemplates:
    """Serialised SyncFolderItems requests per folder object, each with a placeholder sync state.

    Entries are keyed by the folder object's identity and dropped when the folder object is collected
    (a lane's session keeps its folders while it lives), so a mailbox whose session is replaced does not
    leave its old requests behind. Within one folder, a template is keyed by everything else the
    request depends on: shape, fields, page size, API version and the SOAP header's identity and time zone.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[int, tuple[weakref.ref[Any], dict[Hashable, bytes]]] = {}

    def of(self, folder: Any) -> dict[Hashable, bytes]:
        """The templates of ``folder`` (a dict to read and fill)."""
        key = id(folder)
        entry = self._entries.get(key)
        if entry is not None and entry[0]() is folder:
            return entry[1]
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry[0]() is not folder:
                entry = (weakref.ref(folder, _forgetter(self, key)), {})
                self._entries[key] = entry
            return entry[1]

    def forget(self, key: int, ref: weakref.ref[Any]) -> None:
        """Drop the entry of a collected folder (unless a new folder took its key meanwhile)."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry[0] is ref:
                del self._entries[key]

    def __len__(self) -> int:
        return len(self._entries)


def _forgetter(templates: RequestTemplates, key: int) -> Any:
    """The weakref callback that forgets ``key`` when its folder is collected."""
    return lambda ref: templates.forget(key, ref)


TEMPLATES = RequestTemplates()
"""The process's request templates (every caller of ``sync_changes``)."""


@dataclass(frozen=True)
class _Payload:
    """What one SyncFolderItems request asks; turned into bytes by ``_SyncFolderItems.wrap``."""

    folder: Any
    shape: str
    fields: frozenset[Any]
    state: str | None
    max_changes: int
    scope: str | None


class _SyncFolderItems(SyncFolderItems):  # type: ignore[misc]
    """SyncFolderItems that reports error responses as their EWS error (see the module docstring),
    reads created and updated items as ``LightItem`` objects of the requested fields (``light``), and
    sends requests made from a folder's template (``RequestTemplates``)."""

    light_fields: Sequence[Any] = ()
    templates: RequestTemplates = TEMPLATES

    def get_payload(self, folder: Any, shape: str, additional_fields: Any, sync_state: str | None,
                    ignore: Any, max_changes_returned: int, sync_scope: str | None) -> Any:
        if ignore is not None:  # Never asked by the router; exchangelib's own payload then.
            return super().get_payload(folder=folder, shape=shape, additional_fields=additional_fields,
                                       sync_state=sync_state, ignore=ignore,
                                       max_changes_returned=max_changes_returned, sync_scope=sync_scope)
        return _Payload(folder, shape, frozenset(additional_fields or ()), sync_state, max_changes_returned,
                        sync_scope)

    def wrap(self, content: Any, api_version: str | None = None) -> bytes:
        if not isinstance(content, _Payload):
            return super().wrap(content=content, api_version=api_version)  # type: ignore[no-any-return]
        identity, timezone = self._account_to_impersonate, self._timezone
        folder = content.folder
        key = (getattr(folder, "id", None), getattr(folder, "changekey", None), content.shape, content.fields,
               content.max_changes, content.scope, api_version, self.account.version.api_version,
               repr(identity), getattr(timezone, "ms_id", None))
        templates = self.templates.of(folder)
        template = templates.get(key)
        if template is None:
            payload = super().get_payload(folder=folder, shape=content.shape,
                                          additional_fields=content.fields, sync_state=_PLACEHOLDER,
                                          ignore=None, max_changes_returned=content.max_changes,
                                          sync_scope=content.scope)
            template = templates[key] = super().wrap(content=payload, api_version=api_version)
        state = b"" if not content.state else f"<m:SyncState>{escape(content.state)}</m:SyncState>".encode()
        return template.replace(_STATE_ELEMENT, state, 1)

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
        extra = _field_paths(folder, tuple(fields))
        service = _SyncFolderItems(account=account)
        service.light_fields = [path.field for path in extra]
        changes = list(service.call(folder=folder, shape=ID_ONLY, additional_fields=extra, sync_state=state,
                                    ignore=None, max_changes_returned=max_changes, sync_scope=None))
        for change in changes:
            if isinstance(change, EWSError):
                raise change
    more = not service.includes_last_item_in_range and service.sync_state != state
    return Changes(changes, service.sync_state, more)


_FIELD_PATHS: dict[tuple[type, tuple[str, ...]], frozenset[Any]] = {}


def _field_paths(folder: Any, fields: tuple[str, ...]) -> frozenset[Any]:
    """The ``FieldPath`` objects of ``fields`` on ``folder``'s class (validated by exchangelib the first
    time, remembered per folder class: every sweep asks the same two)."""
    key = (type(folder), fields)
    found = _FIELD_PATHS.get(key)
    if found is None:
        found = frozenset(f for f in folder.normalize_fields(fields=fields) if not f.field.is_attribute)
        _FIELD_PATHS[key] = found
    return found


def plain_utc(value: object) -> datetime | None:
    """An aware UTC ``datetime`` from exchangelib's ``EWSDateTime`` (other libraries refuse its tzinfo)."""
    if not isinstance(value, datetime):
        return None
    return datetime.fromtimestamp(value.timestamp(), tz=UTC)

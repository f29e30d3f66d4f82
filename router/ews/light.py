"""Items read from EWS responses as the few fields asked for, not as exchangelib model objects.

exchangelib turns every item of a SyncFolderItems or GetItem response into a full ``Message``:
``EWSElement.from_xml`` looks up *every* field of the model (about a hundred) in the XML and builds
the object through validating ``__setattr__`` calls, although the router asked for two to four fields
and throws the object away a moment later. In a profile of the incoming lane that was most of the
client CPU of syncing and fetching a message.

``LightItem`` holds what was asked for: the item's id and change key, and each requested field as
exchangelib's own field class reads it from the XML (``Field.from_xml``: the same values, types and
time zones as on a model object). The services below are exchangelib's, with only the element-to-object
step replaced; requests, chunking, error responses (per-item ``EWSError`` values) and exchangelib's
own response handling are unchanged.

The other way round, ``update_light`` writes an UpdateItem of the fields a change names (the incoming
lane's acknowledgement: categories, the read flag) from ``LightChange`` values, without a ``Message``
per item: the ``ItemChange`` elements are exchangelib's own, built by its field classes from the same
values, so the request is the one ``bulk_update`` sends (a unit test compares the two).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from copy import deepcopy
from typing import Any

from exchangelib.folders import Folder
from exchangelib.items import AUTO_RESOLVE, ID_ONLY, SAVE_ONLY, SEND_TO_NONE, Message
from exchangelib.properties import ItemId
from exchangelib.services import GetItem, UpdateItem
from exchangelib.util import create_element

_ID_TAG = ItemId.response_tag()


class LightItem:
    """An item's id, change key and the requested fields, read as attributes like a model's."""

    def __init__(self, item_id: str | None, changekey: str | None, values: dict[str, Any]) -> None:
        self.id = item_id
        self.changekey = changekey
        self.__dict__.update(values)

    def __repr__(self) -> str:
        return f"LightItem(id={self.id!r}, fields={sorted(self.__dict__)})"


def read_item(elem: Any, fields: Sequence[Any], account: Any) -> LightItem:
    """The ``LightItem`` of one item element (``fields``: exchangelib ``Field`` objects)."""
    id_elem = elem.find(_ID_TAG)
    item_id = None if id_elem is None else id_elem.get(ItemId.ID_ATTR)
    changekey = None if id_elem is None else id_elem.get(ItemId.CHANGEKEY_ATTR)
    return LightItem(item_id, changekey, {f.name: f.from_xml(elem=elem, account=account) for f in fields})


def item_fields(account: Any, names: Iterable[str], folder: Any = None) -> set[Any]:
    """The ``FieldPath`` objects exchangelib would request for ``names`` (validated as ``Account.fetch``
    does; the id and change key are always returned and not listed)."""
    validation = folder if folder is not None else Folder(root=account.root)
    for name in names:
        validation.validate_item_field(field=name, version=account.version)
    return {f for f in validation.normalize_fields(fields=tuple(names)) if not f.field.is_attribute}


_FETCH_PATHS: dict[tuple[tuple[str, ...], str], set[Any]] = {}
"""``item_fields`` of a Message folder by field names and Exchange version: the same for every account
of that version, so the first account's answer serves the others (no ``account.root`` per mailbox,
whose first use is a GetFolder request)."""


def _fetch_paths(account: Any, names: tuple[str, ...]) -> set[Any]:
    key = (names, repr(account.version))
    paths = _FETCH_PATHS.get(key)
    if paths is None:
        paths = _FETCH_PATHS[key] = item_fields(account, names)
    return paths


class _LightGetItem(GetItem):  # type: ignore[misc]
    """GetItem whose items come back as ``LightItem`` objects of the requested fields."""

    light_fields: Sequence[Any] = ()

    def _elem_to_obj(self, elem: Any) -> LightItem:
        return read_item(elem, self.light_fields, self.account)


def fetch_light(account: Any, ids: Sequence[ItemId], names: Sequence[str], *,
                chunk_size: int | None = None) -> Iterator[Any]:
    """``account.fetch(ids, only_fields=names)`` answering ``LightItem`` objects (or the per-item
    exceptions, as exchangelib yields them), in the order of ``ids``."""
    if not ids:
        return iter(())
    paths = _fetch_paths(account, tuple(names))
    service = _LightGetItem(account=account, chunk_size=chunk_size)
    service.light_fields = [path.field for path in paths]
    return iter(service.call(items=list(ids), additional_fields=paths, shape=ID_ONLY))


class LightChange:
    """One item's change for ``update_light``: its id and change key, and the new value of each
    ``Message`` field named in ``values`` (``None`` or an empty list deletes the field)."""

    __slots__ = ("changekey", "item_id", "values")

    def __init__(self, item_id: str, changekey: str | None, values: dict[str, Any]) -> None:
        self.item_id = item_id
        self.changekey = changekey
        self.values = values


class _LightUpdateItem(UpdateItem):  # type: ignore[misc]
    """UpdateItem of ``LightChange`` targets: the same ``ItemChange`` elements exchangelib writes for
    a ``Message`` and its changed field names, from the field classes, without building the model.

    A batch's items mostly get the same change (the same categories, the read flag), so the field
    elements of one value are built once per request and copied for each item (lxml's copy is C)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._built: dict[tuple[str, Any], list[Any]] = {}

    def _change_elem(self, target: LightChange, fieldnames: Sequence[str]) -> Any:
        change = create_element(self.CHANGE_ELEMENT_NAME)
        change.append(_item_id_elem(target.item_id, target.changekey))
        updates = create_element("t:Updates")
        for field in _sorted_message_fields(fieldnames):
            updates.extend(deepcopy(elem) for elem in self._field_elems(field, target.values[field.name]))
        change.append(updates)
        return change

    def _field_elems(self, field: Any, raw: Any) -> list[Any]:
        """The SetItemField or DeleteItemField elements that give ``field`` the value ``raw``."""
        key = (field.name, tuple(raw) if isinstance(raw, list) else raw)
        built = self._built.get(key)
        if built is None:
            value = field.clean(raw, version=self.account.version)
            if value is None or (field.is_list and not value):
                built = list(self._delete_field_elems(field))
            else:
                built = list(self._set_field_elems(target_model=Message, field=field, value=value))
            self._built[key] = built
        return built

    def _changes_elem(self, target_changes: Iterable[tuple[LightChange, Sequence[str]]]) -> Any:
        changes = create_element(self.CHANGES_ELEMENT_NAME)
        for target, fieldnames in target_changes:
            changes.append(self._change_elem(target, fieldnames))
        return changes


def _item_id_elem(item_id: str, changekey: str | None) -> Any:
    """``<t:ItemId Id=… ChangeKey=…/>`` as ``ItemId(…).to_xml`` writes it (no ChangeKey when unknown)."""
    attrs = {ItemId.ID_ATTR: item_id}
    if changekey is not None:
        attrs[ItemId.CHANGEKEY_ATTR] = changekey
    return create_element(ItemId.request_tag(), attrs=attrs)


def _sorted_message_fields(names: Sequence[str]) -> list[Any]:
    """The ``Message`` fields of ``names`` in the model's order (exchangelib's ``_sorted_fields``)."""
    fields = [field for field in Message.FIELDS if field.name in names]
    if len(fields) != len(set(names)) or any(field.is_read_only for field in fields):
        raise ValueError(f"not writable Message fields: {sorted(names)}")
    return fields


def update_light(account: Any, changes: Sequence[LightChange], *, chunk_size: int | None = None) -> list[Any]:
    """``account.bulk_update`` of ``LightChange`` values, with its defaults (auto-resolve, save only, no
    read receipts): ``(id, changekey)`` or the per-item exception, in the order of ``changes``."""
    if not changes:
        return []
    service = _LightUpdateItem(account=account, chunk_size=chunk_size)
    return list(service.call(items=[(change, tuple(change.values)) for change in changes],
                             conflict_resolution=AUTO_RESOLVE, message_disposition=SAVE_ONLY,
                             send_meeting_invitations_or_cancellations=SEND_TO_NONE,
                             suppress_read_receipts=True))

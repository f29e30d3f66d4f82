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
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from exchangelib.folders import Folder
from exchangelib.items import ID_ONLY
from exchangelib.properties import ItemId
from exchangelib.services import GetItem

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
    paths = item_fields(account, names)
    service = _LightGetItem(account=account, chunk_size=chunk_size)
    service.light_fields = [path.field for path in paths]
    return iter(service.call(items=list(ids), additional_fields=paths, shape=ID_ONLY))

"""``router.ews.light`` reads the requested fields exactly as exchangelib's model objects would, and
writes an UpdateItem exactly as ``bulk_update`` of model objects would."""

from __future__ import annotations

import base64

import pytest
from exchangelib import DELEGATE, Account, Build, Configuration, Credentials, Version
from exchangelib.folders import Inbox, Root
from exchangelib.items import AUTO_RESOLVE, SAVE_ONLY, SEND_TO_NONE, Message
from exchangelib.services import UpdateItem
from exchangelib.util import TNS
from exchangelib.version import EXCHANGE_2010_SP2, EXCHANGE_2016
from lxml import etree

from router.ews.light import LightChange, _fetch_paths, _LightUpdateItem, read_item, update_light

MIME = b"From: a@x.example\r\nSubject: hello\r\n\r\nbody\r\n"
ITEM = f"""<t:Message xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types">
  <t:MimeContent CharacterSet="UTF-8">{base64.b64encode(MIME).decode()}</t:MimeContent>
  <t:ItemId Id="AAMkAD=" ChangeKey="CQAAAB=="/>
  <t:ItemClass>IPM.Note</t:ItemClass>
  <t:DateTimeReceived>2026-12-07T23:55:06Z</t:DateTimeReceived>
  <t:Categories><t:String>Tracked</t:String><t:String>Blue</t:String></t:Categories>
  <t:Subject>hello</t:Subject>
</t:Message>""".encode()
NAMES = ("mime_content", "categories", "item_class", "datetime_received")


def _fields(names: tuple[str, ...]) -> list[object]:
    return [Inbox.get_item_field_by_fieldname(name) for name in names]


def test_the_requested_fields_have_the_values_a_message_object_has() -> None:
    elem = etree.fromstring(ITEM)
    light = read_item(elem, _fields(NAMES), None)
    full = Message.from_xml(elem=elem, account=None)
    assert (light.id, light.changekey) == (full.id, full.changekey) == ("AAMkAD=", "CQAAAB==")
    for name in NAMES:
        assert getattr(light, name) == getattr(full, name), name
    assert light.mime_content == MIME and light.categories == ["Tracked", "Blue"]


def test_fields_not_asked_for_are_not_read() -> None:
    light = read_item(etree.fromstring(ITEM), _fields(("item_class",)), None)
    assert light.item_class == "IPM.Note"
    assert not hasattr(light, "subject") and not hasattr(light, "mime_content")


def test_an_item_without_an_id_element_has_none() -> None:
    bare = etree.fromstring(b'<t:Message xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"/>')
    light = read_item(bare, _fields(("item_class",)), None)
    assert (light.id, light.changekey, light.item_class) == (None, None, None)


def _account(build: Build) -> Account:
    """An account object for building requests (nothing is sent: no request leaves the test)."""
    config = Configuration(server="127.0.0.1", credentials=Credentials("bert", "not-a-secret"),
                           version=Version(build=build))
    return Account("bert@contoso.com", config=config, autodiscover=False, access_type=DELEGATE)


CHANGES = [
    LightChange("AAMkAD1=", "CQAAAB1=", {"categories": ["Tracked"], "is_read": True}),
    LightChange("AAMkAD2=", None, {"categories": None}),
    LightChange("AAMkAD3=", "CQAAAB3=", {"is_read": True}),
    LightChange("AAMkAD4=", "CQAAAB4=", {"is_read": True, "categories": ["Blue", "Tracked", "Ünïcode"]}),
    LightChange("AAMkAD5=", "CQAAAB5=", {"categories": []}),
    LightChange("AAMkAD6=", "CQAAAB6=", {"categories": ["Tracked"], "is_read": True}),
]
"""Every shape the incoming acknowledgement writes: categories set or removed, the read flag, both;
the last repeats the first's values (elements built once per request are copied, not shared)."""


@pytest.mark.parametrize("build", [EXCHANGE_2010_SP2, EXCHANGE_2016])
def test_a_light_update_is_the_request_bulk_update_sends(build: Build) -> None:
    account = _account(build)
    models = [(Message(account=account, id=c.item_id, changekey=c.changekey, **c.values), tuple(c.values))
              for c in CHANGES]
    options = {"conflict_resolution": AUTO_RESOLVE, "message_disposition": SAVE_ONLY,
               "send_meeting_invitations_or_cancellations": SEND_TO_NONE, "suppress_read_receipts": True}
    stock = UpdateItem(account=account).get_payload(items=models, **options)
    light = _LightUpdateItem(account=account).get_payload(
        items=[(c, tuple(c.values)) for c in CHANGES], **options)
    assert etree.tostring(light) == etree.tostring(stock)
    assert len(light.findall(f".//{{{TNS}}}ItemChange")) == len(CHANGES)


def test_a_light_update_refuses_fields_a_message_cannot_write() -> None:
    service = _LightUpdateItem(account=_account(EXCHANGE_2016))
    with pytest.raises(ValueError, match="not writable"):
        service.get_payload(items=[(LightChange("AAMkAD=", None, {"no_such": 1}), ("no_such",))],
                            conflict_resolution=AUTO_RESOLVE, message_disposition=SAVE_ONLY,
                            send_meeting_invitations_or_cancellations=SEND_TO_NONE,
                            suppress_read_receipts=True)


def test_an_empty_light_update_sends_nothing() -> None:
    assert update_light(_account(EXCHANGE_2016), []) == []


def test_fetch_paths_are_worked_out_once_per_exchange_version_not_per_account() -> None:
    first, second = _account(EXCHANGE_2016), _account(EXCHANGE_2016)
    first.__dict__["root"] = Root(account=first, id="root-id", changekey="root-ck")  # no GetFolder offline
    names = ("mime_content", "categories", "item_class", "datetime_received")
    paths = _fetch_paths(first, names)
    assert sorted(p.path for p in paths) == sorted(names)
    assert _fetch_paths(second, names) == paths
    assert "root" not in second.__dict__, "the second account's root (a GetFolder) was not needed"

"""``router.ews.light`` reads the requested fields exactly as exchangelib's model objects would."""

from __future__ import annotations

import base64

from exchangelib.folders import Inbox
from exchangelib.items import Message
from lxml import etree

from router.ews.light import read_item

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

"""The CreateItem items the send step writes itself are the XML exchangelib writes for the same message.

``submit_many`` writes each rendered email's ``t:Message`` directly (``message_element``) instead of
building exchangelib's ``Message`` model and serialising it; the single-email path still uses the model.
Both must give Exchange the same item: the canonical XML of each is compared here, on every server
version exchangelib knows and on the shapes that change the element (Bcc with and without names,
importance). The flow tests send through the simulator, which validates the request against the schema.
"""

from __future__ import annotations

from typing import Any

import pytest
from exchangelib import DELEGATE, Account, Configuration, Credentials
from exchangelib.util import MNS, TNS, create_element, set_xml_value
from exchangelib.version import Build, Version

from router.pipeline.outgoing.addresses import MailAddress
from router.pipeline.outgoing.message import Priority
from router.pipeline.outgoing.render import render
from router.pipeline.outgoing.send import SendAndSaveCopy, _message, message_element, sent_items
from tests.unit.pipeline.outgoing.test_render import message

VERSIONS = [Version(build=Build(major, minor))
            for major, minor in ((8, 0), (14, 0), (15, 0), (15, 1), (15, 20))]
SHAPES = {
    "Bcc with a name and without": message(bcc=[MailAddress("archive@contoso.com", "Archive, Müller"),
                                                 MailAddress("audit@contoso.com")]),
    "no Bcc, high importance": message(bcc=(), priority=Priority.HIGH, attachments=()),
    "low importance": message(priority=Priority.LOW, attachments=()),
}


def _account(version: Version) -> Account:
    """An exchangelib account of ``version`` that never reaches a server: its Sent Items are not looked up
    (``_message`` files the model there; the request names that folder beside the items, not in them)."""
    config = Configuration(service_endpoint="https://ews.invalid/EWS/Exchange.asmx",
                           credentials=Credentials("svc@contoso.com", "not-a-secret"), version=version)
    account = Account("anna.berg@contoso.com", config=config, autodiscover=False, access_type=DELEGATE)
    account.__dict__["sent"] = None
    return account


def _canonical(element: Any) -> tuple[object, ...]:
    """Tag, attributes, text and children, recursively (namespace declarations apart)."""
    return (element.tag, dict(element.attrib), element.text, tuple(_canonical(child) for child in element))


@pytest.mark.parametrize("version", VERSIONS, ids=lambda v: str(v.build))
@pytest.mark.parametrize("shape", list(SHAPES))
def test_the_message_element_is_exchangelibs(shape: str, version: Version) -> None:
    rendered = render(SHAPES[shape], loop_identity="contoso-crm")
    container = create_element("m:Items")
    set_xml_value(container, _message(_account(version), rendered), version=version)
    (model,) = list(container)
    assert _canonical(message_element(rendered)) == _canonical(model)


def test_the_copy_is_saved_in_the_mailboxs_sent_items_by_distinguished_id() -> None:
    """No GetFolder before a mailbox's first send: Sent Items is named by its distinguished id."""
    account = _account(VERSIONS[-1])
    rendered = render(SHAPES["low importance"], loop_identity="contoso-crm")
    service = SendAndSaveCopy(account=account, chunk_size=2)
    payload = service.get_payload(items=[rendered, rendered], folder=sent_items(account),
                                  message_disposition="SendAndSaveCopy",
                                  send_meeting_invitations="SendToNone")
    saved = payload.find(f"{{{MNS}}}SavedItemFolderId/{{{TNS}}}DistinguishedFolderId")
    assert saved is not None and saved.get("Id") == "sentitems"
    assert saved.findtext(f"{{{TNS}}}Mailbox/{{{TNS}}}EmailAddress") == "anna.berg@contoso.com"
    assert len(payload.find(f"{{{MNS}}}Items")) == 2

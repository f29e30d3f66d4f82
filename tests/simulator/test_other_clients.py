"""The simulator as an EWS client other than exchangelib meets it (zeep over the official WSDL).

Every request and answer here is also validated against the official schema by the ``ews_simulator``
fixture (the test fails at teardown on any violation). Each test is one of the issue's findings from
clients other than exchangelib: FindItem's Default/AllProperties shapes, computed extended MAPI
properties, folder counts, ConvertId's owner, malformed XML in a body, transport headers at
delivery, large items, and the folder and attachment operations.
"""

from __future__ import annotations

import base64
import email
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import zeep
from lxml import etree

from router.simulator import Controller, ServerConfig
from tests.simulator import raw
from tests.simulator.soap_client import SoapEws, T, field_paths, folder_ids
from tests.support.ews_simulator import ALICE, BOB, SMALL_ORG, assert_valid, make_validator

CAROL = "carol@fabrikam.com"
LIMIT = 10 * 1024 * 1024
"""The organisation's message size limit in the large-item tests (Exchange's default: 35 MB)."""


@pytest.fixture
def alice(ews_simulator: Controller) -> Iterator[SoapEws]:
    client = SoapEws(ews_simulator, ALICE)
    yield client
    client.close()


def _find(client: SoapEws, shape: dict[str, object]) -> list[object]:
    [message] = client.messages("FindItem", Traversal="Shallow", ItemShape=shape,
                                ParentFolderIds=folder_ids("inbox"))
    assert message.ResponseClass == "Success", message.MessageText
    return [entry["Message"] for entry in message.RootFolder.Items._value_1]


@pytest.mark.parametrize("base", ["Default", "AllProperties"])
def test_find_item_with_a_summary_shape_leaves_out_what_find_cannot_return(
        ews_simulator: Controller, alice: SoapEws, base: str) -> None:
    ews_simulator.control.inject(ALICE, from_=CAROL, to=[ALICE], subject="Shapes", body="the body",
                                 message_id="<shape@fabrikam.com>")
    [item] = _find(alice, {"BaseShape": base})
    assert item.Subject == "Shapes" and item.ItemId.Id and item.DateTimeReceived is not None
    assert item.From.Mailbox.EmailAddress == CAROL and item.IsRead is False
    assert item.Body is None and item.Attachments is None and item.MimeContent is None
    if base == "AllProperties":
        assert item.InternetMessageId == "<shape@fabrikam.com>"


def test_find_item_refuses_a_property_it_cannot_return_when_asked_by_name(
        ews_simulator: Controller, alice: SoapEws) -> None:
    ews_simulator.control.inject(ALICE, from_=CAROL, to=[ALICE], subject="Named", body="x")
    shape = {"BaseShape": "IdOnly", "AdditionalProperties": field_paths(alice, "item:Body")}
    [message] = alice.messages("FindItem", Traversal="Shallow", ItemShape=shape,
                               ParentFolderIds=folder_ids("inbox"))
    assert message.ResponseCode == "ErrorInvalidPropertyRequest"
    assert message.MessageText == "The property item:Body can't be used in FindItem requests."


def test_an_abstract_path_as_zeep_writes_it_is_a_schema_error_as_exchange_answers(
        ews_simulator: Controller) -> None:
    client = SoapEws(ews_simulator, ALICE, members=False)
    try:
        with pytest.raises(zeep.exceptions.Fault) as caught:
            client.messages("FindItem", Traversal="Shallow", ParentFolderIds=folder_ids("inbox"),
                            ItemShape={"BaseShape": "IdOnly",
                                       "AdditionalProperties": field_paths(client, "item:Subject")})
    finally:
        client.close()
    assert caught.value.code.endswith("ErrorSchemaValidation")
    assert "Path' is abstract or its type is abstract" in caught.value.message


# Extended MAPI properties Exchange computes ------------------------------------------------------------

def _extended(item: Any, tags: tuple[tuple[int, str], ...]) -> dict[str, str]:
    """The item's extended properties by tag. zeep cannot read the PropertyTag union (it tries the
    unsignedShort member on "0xe23"), so they are matched to the tags asked, which Exchange answers in
    order; every one asked must be there."""
    found = item.ExtendedProperty or []
    assert len(found) == len(tags), found
    return {f"0x{tag:x}": prop.Value for (tag, _), prop in zip(tags, found, strict=True)}


def test_computed_message_properties_are_served_by_tag(ews_simulator: Controller, alice: SoapEws) -> None:
    for n in range(3):
        ews_simulator.control.inject(ALICE, from_=CAROL, to=[ALICE], subject=f"Tagged {n}",
                                     body="x" * (n + 1))
    tags = ((0x0E23, "Integer"), (0x0E08, "Integer"), (0x0E07, "Integer"), (0x3008, "SystemTime"),
            (0x300B, "Binary"), (0x0FFF, "Binary"), (0x65E0, "Binary"), (0x3FDE, "Integer"))
    items = _find(alice, {"BaseShape": "IdOnly", "AdditionalProperties": field_paths(alice, tags=tags)})
    values = [_extended(item, tags) for item in items]
    articles = sorted(int(v["0xe23"]) for v in values)
    assert articles[0] > 0 and articles == sorted(set(articles)), "positive and increasing per folder"
    for v in values:
        assert int(v["0xe08"]) > 0 and int(v["0xe07"]) & 1 == 0, "a size; unread (MSGFLAG_READ clear)"
        assert v["0x3008"].endswith("Z") and len(base64.b64decode(v["0x300b"])) == 16
        assert len(base64.b64decode(v["0x65e0"])) == 22 and v["0x3fde"] == "65001"
    entry_ids = {item.ItemId.Id: base64.b64decode(v["0xfff"]) for item, v in zip(items, values, strict=True)}
    for item_id, entry_id in entry_ids.items():
        body = ('<m:ConvertId DestinationFormat="EwsId"><m:SourceIds><t:AlternateId Format="EntryId" '
                f'Id="{base64.b64encode(entry_id).decode()}" Mailbox="{ALICE}"/></m:SourceIds></m:ConvertId>')
        [alternate] = raw.body_of(raw.post(ews_simulator, raw.envelope(body), user=ALICE)).iter(
            f"{{{raw.M}}}AlternateId")
        assert alternate.get("Id") == item_id, "PR_ENTRYID is the item's EntryId"
    [moved] = alice.messages("MoveItem", ToFolderId={"DistinguishedFolderId": {"Id": "deleteditems"}},
                             ItemIds={"_value_1": [{"ItemId": {"Id": items[0].ItemId.Id}}]})
    assert moved.ResponseClass == "Success"
    ews_simulator.control.inject(ALICE, from_=CAROL, to=[ALICE], subject="Later", body="y")
    later = _find(alice, {"BaseShape": "IdOnly", "AdditionalProperties": field_paths(alice, tags=tags[:1])})
    assert max(int(_extended(i, tags[:1])["0xe23"]) for i in later) > articles[-1], "numbers are never reused"


def test_get_folder_counts_and_computed_folder_properties(ews_simulator: Controller, alice: SoapEws) -> None:
    for n in range(2):
        ews_simulator.control.inject(ALICE, from_=CAROL, to=[ALICE], subject=f"Count {n}", body="x")
    tags = ((0x3602, "Integer"), (0x3603, "Integer"), (0x360A, "Boolean"), (0x3613, "String"),
            (0x670A, "SystemTime"), (0x3001, "String"), (0x0FFF, "Binary"))
    shape = {"BaseShape": "Default", "AdditionalProperties": field_paths(alice, tags=tags)}
    [message] = alice.messages("GetFolder", FolderShape=shape, FolderIds=folder_ids("inbox"))
    [entry] = message.Folders._value_1
    folder = entry["Folder"]
    assert (folder.TotalCount, folder.UnreadCount, folder.ChildFolderCount) == (2, 2, 0)
    values = _extended(folder, tags)
    assert values["0x3602"] == "2" and values["0x3603"] == "2" and values["0x360a"] == "false"
    assert values["0x3613"] == "IPF.Note" and values["0x3001"] == "Inbox" and values["0x670a"].endswith("Z")


# ConvertId, malformed bodies, transport headers ----------------------------------------------------------

def test_convert_id_names_the_mailbox_that_owns_the_id(ews_simulator: Controller) -> None:
    # Raw SOAP as the EWS Managed API writes ConvertId: zeep serialises AlternateId's Format as "NotSet".
    item_id = ews_simulator.control.inject(ALICE, from_=CAROL, to=[ALICE], subject="Owner", body="x")
    body = ('<m:ConvertId DestinationFormat="HexEntryId"><m:SourceIds>'
            f'<t:AlternateId Format="EwsId" Id="{item_id}" Mailbox="{BOB}"/></m:SourceIds></m:ConvertId>')
    response = raw.post(ews_simulator, raw.envelope(body), user=ALICE)
    assert raw.codes(response) == ["NoError"], response.text
    [alternate] = raw.body_of(response).iter(f"{{{raw.M}}}AlternateId")
    assert alternate.get("Mailbox") == ALICE and alternate.get("Format") == "HexEntryId"


def test_unescaped_markup_in_a_body_is_a_schema_error_not_an_empty_body(ews_simulator: Controller) -> None:
    body = ('<m:CreateItem MessageDisposition="SaveOnly"><m:Items><t:Message><t:Subject>Markup</t:Subject>'
            '<t:Body BodyType="HTML"><p>Hello <b>there</b></p></t:Body></t:Message></m:Items></m:CreateItem>')
    response = raw.post(ews_simulator, raw.envelope(body), user=ALICE)
    assert response.status_code == 500
    assert "ErrorSchemaValidation" in response.text
    assert "cannot contain child element 'p' because the parent element's content model is text only" \
        in response.text
    assert ews_simulator.control.messages(ALICE, "drafts") == []


def test_delivered_mail_carries_the_transport_headers_exchange_adds(ews_simulator: Controller,
                                                                     alice: SoapEws) -> None:
    ews_simulator.control.inject(ALICE, from_=CAROL, to=[ALICE], subject="Outside", body="x")
    ews_simulator.control.inject(ALICE, from_=BOB, to=[ALICE], subject="Inside", body="y")
    ids = [item.ItemId.Id for item in _find(alice, {"BaseShape": "IdOnly"})]
    [*messages] = alice.messages("GetItem", ItemShape={"BaseShape": "IdOnly", "IncludeMimeContent": True},
                                 ItemIds={"_value_1": [{"ItemId": {"Id": i}} for i in ids]})
    parsed = {}
    for message in messages:
        [entry] = message.Items._value_1
        mime = email.message_from_bytes(base64.b64decode(entry["Message"].MimeContent._value_1))
        parsed[mime["Subject"]] = mime
    for subject, auth in (("Outside", "Anonymous"), ("Inside", "Internal")):
        headers = parsed[subject]
        assert headers["Received"].startswith("from ") and "with Microsoft SMTP Server" in headers["Received"]
        assert headers["X-MS-Exchange-Organization-AuthAs"] == auth
        assert headers["X-MS-Exchange-Organization-Network-Message-Id"]
    assert parsed["Outside"]["X-MS-Exchange-Organization-SCL"] == "1"


# Large items --------------------------------------------------------------------------------------------

def _large_eml(megabytes: int) -> bytes:
    """A message whose attachment makes it ``megabytes`` MB: its Base64 MimeContent passes lxml's 10 MB
    text-node limit from about 7 MB on."""
    payload = base64.encodebytes(bytes(range(256)) * (megabytes * 3072)).replace(b"\n", b"\r\n")
    return (b"From: carol@fabrikam.com\r\nTo: alice@contoso.com\r\nSubject: Large\r\n"
            b"Message-ID: <large@fabrikam.com>\r\nMIME-Version: 1.0\r\n"
            b"Content-Type: multipart/mixed; boundary=b1\r\n\r\n--b1\r\nContent-Type: text/plain\r\n\r\nsee "
            b"attached\r\n--b1\r\nContent-Type: application/octet-stream\r\n"
            b"Content-Transfer-Encoding: base64\r\n"
            b"Content-Disposition: attachment; filename=big.bin\r\n\r\n" + payload + b"--b1--\r\n")


@pytest.fixture
def large(ews_schema: etree.XMLSchema | None, ews_tls_dir: Path) -> Iterator[Controller]:
    """A simulator whose organisation accepts messages up to LIMIT; bodies are schema-checked when the
    schema is found (the validator re-reads them with ``huge_tree``, as Exchange's parser has no 10 MB
    text-node limit)."""
    validator = make_validator(ews_schema)
    config = ServerConfig(max_message_bytes=LIMIT)
    with Controller(config=config, state_dir=ews_tls_dir, seed=SMALL_ORG, validator=validator) as sim:
        yield sim
    assert_valid(validator)


def test_an_item_above_7_mb_is_served_whole(large: Controller) -> None:
    eml = _large_eml(9)
    item_id = large.control.inject(ALICE, eml)
    client = SoapEws(large, ALICE)
    try:
        [message] = client.messages("GetItem", ItemShape={"BaseShape": "IdOnly", "IncludeMimeContent": True},
                                    ItemIds={"_value_1": [{"ItemId": {"Id": item_id}}]})
    finally:
        client.close()
    [entry] = message.Items._value_1
    served = base64.b64decode(entry["Message"].MimeContent._value_1)
    assert len(served) > 9 * 1024 * 1024 and served.endswith(eml), "the delivered MIME, headers prepended"


def test_create_item_accepts_a_large_message_up_to_the_organisation_limit(large: Controller) -> None:
    client = SoapEws(large, ALICE)
    try:
        answers = [client.messages(
            "CreateItem", MessageDisposition="SaveOnly",
            SavedItemFolderId={"DistinguishedFolderId": {"Id": "drafts"}},
            Items={"_value_1": [{"Message": {"MimeContent": {
                "_value_1": base64.b64encode(_large_eml(size)).decode()}}}]})[0]
            for size in (9, 11)]
    finally:
        client.close()
    assert [a.ResponseCode for a in answers] == ["NoError", "ErrorMessageSizeExceeded"]
    assert len(large.control.messages(ALICE, "drafts")) == 1


# Folder and attachment operations -------------------------------------------------------------------

def _folder_id(message: Any) -> str:
    assert message.ResponseClass == "Success", message.MessageText
    [entry] = message.Folders._value_1
    return str(entry["Folder"].FolderId.Id)


def test_folders_are_created_renamed_and_deleted(ews_simulator: Controller, alice: SoapEws) -> None:
    def create(name: str) -> Any:
        [answer] = alice.messages("CreateFolder", ParentFolderId={"DistinguishedFolderId": {"Id": "inbox"}},
                                  Folders={"_value_1": [{"Folder": {"DisplayName": name}}]})
        return answer

    crm_id = _folder_id(create("CRM"))
    assert create("crm").ResponseCode == "ErrorFolderExists"
    display_name = alice.client.get_element(f"{T}FieldURI")(FieldURI="folder:DisplayName")
    update = {"SetFolderField": {"Path": display_name, "Folder": {"DisplayName": "Tracked"}}}
    [renamed] = alice.messages("UpdateFolder", FolderChanges={"FolderChange": [{
        "FolderId": {"Id": crm_id}, "Updates": {"_value_1": [update]}}]})
    assert _folder_id(renamed) == crm_id
    ews_simulator.control.inject(ALICE, folder="Inbox/Tracked", from_=CAROL, to=[ALICE], subject="Kept")
    assert [m.subject for m in ews_simulator.control.messages(ALICE, "Inbox/Tracked")] == ["Kept"]
    [refused] = alice.messages("DeleteFolder", DeleteType="HardDelete", FolderIds=folder_ids("inbox"))
    assert refused.ResponseCode == "ErrorDeleteDistinguishedFolder"
    [deleted] = alice.messages("DeleteFolder", DeleteType="MoveToDeletedItems",
                               FolderIds={"_value_1": [{"FolderId": {"Id": crm_id}}]})
    assert deleted.ResponseClass == "Success"
    assert [m.subject for m in ews_simulator.control.messages(ALICE, "deleteditems/Tracked")] == ["Kept"]
    [gone] = alice.messages("DeleteFolder", DeleteType="HardDelete",
                            FolderIds={"_value_1": [{"FolderId": {"Id": crm_id}}]})
    assert gone.ResponseClass == "Success"
    [missing] = alice.messages("GetFolder", FolderShape={"BaseShape": "IdOnly"},
                               FolderIds={"_value_1": [{"FolderId": {"Id": crm_id}}]})
    assert missing.ResponseCode == "ErrorFolderNotFound"


def test_another_users_folders_cannot_be_changed_without_rights(ews_simulator: Controller) -> None:
    bob = SoapEws(ews_simulator, BOB)
    try:
        inbox = {"DistinguishedFolderId": {"Id": "inbox", "Mailbox": {"EmailAddress": ALICE}}}
        [answer] = bob.messages("CreateFolder", ParentFolderId=inbox,
                                Folders={"_value_1": [{"Folder": {"DisplayName": "Intrusion"}}]})
    finally:
        bob.close()
    assert answer.ResponseCode == "ErrorAccessDenied"


def test_attachments_are_added_read_and_removed_one_at_a_time(ews_simulator: Controller,
                                                              alice: SoapEws) -> None:
    [created] = alice.messages("CreateItem", MessageDisposition="SaveOnly",
                               SavedItemFolderId={"DistinguishedFolderId": {"Id": "drafts"}},
                               Items={"_value_1": [{"Message": {"Subject": "With a file", "Body": {
                                   "_value_1": "see attached", "BodyType": "Text"}}}]})
    [entry] = created.Items._value_1
    item_id = entry["Message"].ItemId.Id
    content = b"%PDF-1.4 quarterly figures"
    file = {"FileAttachment": {"Name": "q3.pdf", "ContentType": "application/pdf", "Content": content}}
    [added] = alice.messages("CreateAttachment", ParentItemId={"Id": item_id},
                             Attachments={"_value_1": [file]})
    assert added.ResponseClass == "Success", added.MessageText
    [attachment] = added.Attachments._value_1
    attachment_id = attachment["FileAttachment"].AttachmentId
    assert attachment_id.RootItemId == item_id and attachment_id.RootItemChangeKey
    [got] = alice.messages("GetAttachment", AttachmentIds={"_value_1": [{"AttachmentId": {
        "Id": attachment_id.Id}}]})
    [fetched] = got.Attachments._value_1
    assert fetched["FileAttachment"].Name == "q3.pdf" and fetched["FileAttachment"].Content == content
    [stored] = ews_simulator.control.messages(ALICE, "drafts")
    assert b"q3.pdf" in stored.mime, "the item's MIME carries the new part"
    [removed] = alice.messages("DeleteAttachment", AttachmentIds={"_value_1": [{"AttachmentId": {
        "Id": attachment_id.Id}}]})
    assert removed.ResponseClass == "Success" and removed.RootItemId.RootItemId == item_id
    [again] = alice.messages("GetAttachment", AttachmentIds={"_value_1": [{"AttachmentId": {
        "Id": attachment_id.Id}}]})
    assert again.ResponseCode == "ErrorInvalidAttachmentId"
    [stored] = ews_simulator.control.messages(ALICE, "drafts")
    assert b"q3.pdf" not in stored.mime


def test_attachments_of_delivered_mail_are_listed_and_fetched(ews_simulator: Controller,
                                                              alice: SoapEws) -> None:
    content = b"quarterly figures\x00\x01"
    eml = (b"From: carol@fabrikam.com\r\nTo: alice@contoso.com\r\nSubject: Report\r\nMIME-Version: 1.0\r\n"
           b"Content-Type: multipart/mixed; boundary=b1\r\n\r\n--b1\r\nContent-Type: text/plain\r\n\r\n"
           b"see attached\r\n--b1\r\nContent-Type: application/octet-stream\r\n"
           b"Content-Transfer-Encoding: base64\r\n"
           b"Content-Disposition: attachment; filename=report.bin\r\n\r\n"
           + base64.encodebytes(content).replace(b"\n", b"\r\n") + b"--b1--\r\n")
    item_id = ews_simulator.control.inject(ALICE, eml)
    ids = {"_value_1": [{"ItemId": {"Id": item_id}}]}
    listed = []
    for _ in range(2):
        [message] = alice.messages("GetItem", ItemShape={"BaseShape": "Default"}, ItemIds=ids)
        [entry] = message.Items._value_1
        [attachment] = entry["Message"].Attachments._value_1
        listed.append(attachment["FileAttachment"])
    assert listed[0].Name == "report.bin" and listed[0].AttachmentId.Id == listed[1].AttachmentId.Id
    [got] = alice.messages("GetAttachment", AttachmentIds={"_value_1": [{"AttachmentId": {
        "Id": listed[0].AttachmentId.Id}}]})
    [fetched] = got.Attachments._value_1
    assert fetched["FileAttachment"].Content == content and fetched["FileAttachment"].Name == "report.bin"

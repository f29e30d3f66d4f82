"""Canned EWS and Autodiscover responses, shaped as Exchange 2016 sends them (schema order).

Each builder returns the bytes of a whole SOAP envelope. ``messages.xsd`` validates the element
inside ``s:Body`` of every EWS response here (checked when they were written; see the README of the
shared EWS schema).
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass

S = "http://schemas.xmlsoap.org/soap/envelope/"
M = "http://schemas.microsoft.com/exchange/services/2006/messages"
T = "http://schemas.microsoft.com/exchange/services/2006/types"
A = "http://schemas.microsoft.com/exchange/2010/Autodiscover"

SERVER_VERSION = (
    f'<h:ServerVersionInfo xmlns:h="{T}" MajorVersion="15" MinorVersion="1" MajorBuildNumber="2507" '
    'MinorBuildNumber="6" Version="V2017_07_11"/>')


def envelope(body: str, header: str = SERVER_VERSION) -> bytes:
    """A SOAP envelope around ``body``, with the server version header exchangelib requires."""
    return (f'<?xml version="1.0" encoding="utf-8"?>\n<s:Envelope xmlns:s="{S}"><s:Header>{header}</s:Header>'
            f'<s:Body>{body}</s:Body></s:Envelope>').encode()


def _message(operation: str, payload: str) -> str:
    return (f'<m:{operation}Response xmlns:m="{M}" xmlns:t="{T}"><m:ResponseMessages>'
            f'<m:{operation}ResponseMessage ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode>'
            f'{payload}</m:{operation}ResponseMessage></m:ResponseMessages></m:{operation}Response>')


def _error(operation: str, code: str, text: str, container: str) -> str:
    return (f'<m:{operation}Response xmlns:m="{M}" xmlns:t="{T}"><m:ResponseMessages>'
            f'<m:{operation}ResponseMessage ResponseClass="Error"><m:MessageText>{text}</m:MessageText>'
            f'<m:ResponseCode>{code}</m:ResponseCode><m:DescriptiveLinkKey>0</m:DescriptiveLinkKey>'
            f'{container}</m:{operation}ResponseMessage></m:ResponseMessages></m:{operation}Response>')


def error_response(operation: str, code: str, text: str, container: str = "<m:Items/>") -> bytes:
    """A response whose only message is an error with ``code`` (what Exchange says per item)."""
    return envelope(_error(operation, code, text, container))


def fault(code: str, text: str, back_off_ms: int | None = None) -> bytes:
    """A SOAP fault as Exchange sends it for request-level errors (HTTP 500)."""
    detail = f'<e:ResponseCode xmlns:e="http://schemas.microsoft.com/exchange/services/2006/errors">{code}' \
             '</e:ResponseCode>'
    if back_off_ms is not None:
        detail += (f'<t:MessageXml xmlns:t="{T}"><t:Value Name="BackOffMilliseconds">{back_off_ms}</t:Value>'
                   '</t:MessageXml>')
    body = (f'<s:Fault><faultcode xmlns:a="{T}">a:{code}</faultcode><faultstring xml:lang="en-US">{text}'
            f'</faultstring><detail>{detail}</detail></s:Fault>')
    return envelope(body)


def folder(folder_id: str, name: str, distinguished: str, total: int = 0) -> bytes:
    """GetFolder answering one folder."""
    payload = (f'<m:Folders><t:Folder><t:FolderId Id="{folder_id}" ChangeKey="AQAAABYAAAA="/>'
               f'<t:FolderClass>IPF.Note</t:FolderClass><t:DisplayName>{name}</t:DisplayName>'
               f'<t:TotalCount>{total}</t:TotalCount><t:ChildFolderCount>0</t:ChildFolderCount>'
               f'<t:DistinguishedFolderId>{distinguished}</t:DistinguishedFolderId>'
               '<t:UnreadCount>0</t:UnreadCount></t:Folder></m:Folders>')
    return envelope(_message("GetFolder", payload))


@dataclass(frozen=True)
class CannedMessage:
    """One message of the canned mailbox."""

    item_id: str
    subject: str
    received: str
    sender: str
    message_id: str
    mime: bytes


def mime_of(subject: str, sender: str, message_id: str, size: int) -> bytes:
    """A plausible inbound RFC 822 message of about ``size`` bytes."""
    head = (f"Received: from mx.example.net by exch.example.com; Mon, 2 Mar 2026 09:00:00 +0000\r\n"
            f"From: {sender}\r\nTo: user@example.com\r\nSubject: {subject}\r\nMessage-ID: {message_id}\r\n"
            "Date: Mon, 2 Mar 2026 09:00:00 +0000\r\nMIME-Version: 1.0\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n\r\n")
    line = "The quick brown fox jumps over the lazy dog, again and again. " * 2 + "\r\n"
    return (head + line * max(1, (size - len(head)) // len(line))).encode()


def mailbox_messages(count: int, size: int = 8000) -> list[CannedMessage]:
    """``count`` distinct messages with ids, subjects and MIME of about ``size`` bytes."""
    result = []
    for n in range(count):
        item_id = base64.b64encode(f"item-{n:04d}".encode() * 12).decode()
        subject, sender = f"Order {n} & more <ok>", f"sender{n}@example.net"
        message_id = f"<m{n}@example.net>"
        result.append(CannedMessage(item_id, subject, f"2026-03-02T09:{n % 60:02d}:00Z", sender, message_id,
                                    mime_of(subject.replace("&", "and"), sender, message_id, size)))
    return result


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _item_xml(msg: CannedMessage, *, with_mime: bool) -> str:
    mime = (f'<t:MimeContent CharacterSet="UTF-8">{base64.b64encode(msg.mime).decode()}</t:MimeContent>'
            if with_mime else "")
    return (f'<t:Message>{mime}<t:ItemId Id="{msg.item_id}" ChangeKey="CQAAABYAAAC{len(msg.item_id)}"/>'
            f'<t:Subject>{_escape(msg.subject)}</t:Subject><t:DateTimeReceived>{msg.received}</t:DateTimeReceived>'
            f'<t:Sender><t:Mailbox><t:Name>{msg.sender}</t:Name><t:EmailAddress>{msg.sender}</t:EmailAddress>'
            '<t:RoutingType>SMTP</t:RoutingType></t:Mailbox></t:Sender>'
            f'<t:InternetMessageId>{_escape(msg.message_id)}</t:InternetMessageId></t:Message>')


NOT_FOUND = ('<m:GetItemResponseMessage ResponseClass="Error"><m:MessageText>The specified object was not '
             'found in the store.</m:MessageText><m:ResponseCode>ErrorItemNotFound</m:ResponseCode>'
             '<m:DescriptiveLinkKey>0</m:DescriptiveLinkKey><m:Items/></m:GetItemResponseMessage>')


def get_item(messages: Sequence[CannedMessage | None]) -> bytes:
    """GetItem answering each message with its MIME, in request order (None: ErrorItemNotFound)."""
    parts = "".join(
        NOT_FOUND if msg is None else
        f'<m:GetItemResponseMessage ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode>'
        f'<m:Items>{_item_xml(msg, with_mime=True)}</m:Items></m:GetItemResponseMessage>' for msg in messages)
    return envelope(f'<m:GetItemResponse xmlns:m="{M}" xmlns:t="{T}"><m:ResponseMessages>{parts}'
                    '</m:ResponseMessages></m:GetItemResponse>')


def find_item(messages: Sequence[CannedMessage]) -> bytes:
    """FindItem answering one page that holds every message."""
    items = "".join(_item_xml(msg, with_mime=False) for msg in messages)
    payload = (f'<m:RootFolder IndexedPagingOffset="{len(messages)}" TotalItemsInView="{len(messages)}" '
               f'IncludesLastItemInRange="true"><t:Items>{items}</t:Items></m:RootFolder>')
    return envelope(_message("FindItem", payload))


def sync_folder_items(messages: Sequence[CannedMessage], deleted: Sequence[str] = (),
                      state: str = "H4sIAAAAAAAEAO29B2AcSZ") -> bytes:
    """SyncFolderItems reporting creates, deletions and a read-flag change, with its new state."""
    changes = "".join(f"<t:Create>{_item_xml(msg, with_mime=False)}</t:Create>" for msg in messages)
    changes += "".join(f'<t:Delete><t:ItemId Id="{item_id}"/></t:Delete>' for item_id in deleted)
    if messages:
        changes += (f'<t:ReadFlagChange><t:ItemId Id="{messages[0].item_id}"/><t:IsRead>true</t:IsRead>'
                    '</t:ReadFlagChange>')
    payload = (f"<m:SyncState>{state}</m:SyncState>"
               f"<m:IncludesLastItemInRange>true</m:IncludesLastItemInRange><m:Changes>{changes}</m:Changes>")
    return envelope(_message("SyncFolderItems", payload))


def streaming_events(subscription_id: str, item_ids: Sequence[str]) -> list[bytes]:
    """The documents of one GetStreamingEvents response: one notification per item, then Closed."""
    docs = []
    for item_id in item_ids:
        event = (f'<t:NewMailEvent><t:TimeStamp>2026-03-02T09:00:00Z</t:TimeStamp>'
                 f'<t:ItemId Id="{item_id}" ChangeKey="CQ=="/><t:ParentFolderId Id="INBOX" ChangeKey="AQ=="/>'
                 '</t:NewMailEvent>')
        payload = (f'<m:Notifications><t:Notification><t:SubscriptionId>{subscription_id}</t:SubscriptionId>'
                   f'{event}</t:Notification></m:Notifications><m:ConnectionStatus>OK</m:ConnectionStatus>')
        docs.append(envelope(_message("GetStreamingEvents", payload)))
    docs.append(envelope(_message("GetStreamingEvents", "<m:ConnectionStatus>Closed</m:ConnectionStatus>")))
    return docs


def user_settings(mailbox: str, ews_url: str, *, redirect_address: str | None = None,
                  error_code: str | None = None) -> bytes:
    """An Autodiscover GetUserSettings response for one user."""
    if error_code:
        code, settings, redirect = error_code, "", ""
    elif redirect_address:
        code, settings = "RedirectAddress", ""
        redirect = f"<a:RedirectTarget>{redirect_address}</a:RedirectTarget>"
    else:
        code, redirect = "NoError", ""
        settings = ("<a:UserSettings>"
                    f'<a:UserSetting i:type="a:StringSetting"><a:Name>AutoDiscoverSMTPAddress</a:Name>'
                    f"<a:Value>{mailbox}</a:Value></a:UserSetting>"
                    f'<a:UserSetting i:type="a:StringSetting"><a:Name>ExternalEwsUrl</a:Name>'
                    f"<a:Value>{ews_url}</a:Value></a:UserSetting>"
                    f'<a:UserSetting i:type="a:StringSetting"><a:Name>EwsSupportedSchemas</a:Name>'
                    "<a:Value>Exchange2007, Exchange2007_SP1, Exchange2010, Exchange2010_SP1, "
                    "Exchange2010_SP2, Exchange2013, Exchange2013_SP1, Exchange2016</a:Value></a:UserSetting>"
                    "</a:UserSettings>")
    header = (f'<a:ServerVersionInfo xmlns:a="{A}"><a:MajorVersion>15</a:MajorVersion>'
              "<a:MinorVersion>1</a:MinorVersion><a:MajorBuildNumber>2507</a:MajorBuildNumber>"
              "<a:MinorBuildNumber>6</a:MinorBuildNumber><a:Version>Exchange2016</a:Version>"
              "</a:ServerVersionInfo>")
    body = (f'<GetUserSettingsResponseMessage xmlns="{A}"><Response xmlns:a="{A}" '
            'xmlns:i="http://www.w3.org/2001/XMLSchema-instance"><a:ErrorCode>NoError</a:ErrorCode>'
            "<a:ErrorMessage/><a:UserResponses><a:UserResponse>"
            f"<a:ErrorCode>{code}</a:ErrorCode><a:ErrorMessage>{code}</a:ErrorMessage>{redirect}"
            f"{settings}<a:UserSettingErrors/></a:UserResponse></a:UserResponses></Response>"
            "</GetUserSettingsResponseMessage>")
    return envelope(body, header)

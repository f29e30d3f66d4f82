"""Raw EWS requests for tests: what no exchangelib call sends (AddDelegate, inbox rules, bad input)."""

from __future__ import annotations

import requests
from lxml import etree

from router.simulator import Controller
from tests.support.ews_simulator import PASSWORD

SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
T = "http://schemas.microsoft.com/exchange/services/2006/types"
M = "http://schemas.microsoft.com/exchange/services/2006/messages"


def envelope(body: str, *, version: str | None = "Exchange2016", header: str = "") -> bytes:
    rsv = f'<t:RequestServerVersion Version="{version}"/>' if version else ""
    return (
        f'<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="{SOAP}" xmlns:t="{T}" xmlns:m="{M}">'
        f"<s:Header>{rsv}{header}</s:Header><s:Body>{body}</s:Body></s:Envelope>"
    ).encode()


def post(sim: Controller, data: bytes, *, user: str, password: str = PASSWORD) -> requests.Response:
    with requests.Session() as session:
        return session.post(
            sim.url,
            data=data,
            auth=(user, password),
            verify=str(sim.ca_file),
            headers={"Content-Type": "text/xml; charset=utf-8"},
            timeout=30,
        )


def body_of(response: requests.Response) -> etree._Element:
    return etree.fromstring(response.content).find(f"{{{SOAP}}}Body")[0]  # type: ignore[index]


def codes(response: requests.Response) -> list[str]:
    return [e.text or "" for e in etree.fromstring(response.content).iter(f"{{{M}}}ResponseCode")]


def add_delegate(sim: Controller, *, owner: str, delegate: str) -> None:
    body = (
        f"<m:AddDelegate><m:Mailbox><t:EmailAddress>{owner}</t:EmailAddress></m:Mailbox><m:DelegateUsers>"
        f"<t:DelegateUser><t:UserId><t:PrimarySmtpAddress>{delegate}</t:PrimarySmtpAddress></t:UserId>"
        "<t:DelegatePermissions><t:InboxFolderPermissionLevel>Editor</t:InboxFolderPermissionLevel>"
        "</t:DelegatePermissions><t:ReceiveCopiesOfMeetingMessages>false</t:ReceiveCopiesOfMeetingMessages>"
        "<t:ViewPrivateItems>false</t:ViewPrivateItems></t:DelegateUser></m:DelegateUsers>"
        "<m:DeliverMeetingRequests>DelegatesAndMe</m:DeliverMeetingRequests></m:AddDelegate>"
    )
    response = post(sim, envelope(body), user=owner)
    assert response.status_code == 200, response.text
    assert codes(response) == ["NoError", "NoError"], response.text

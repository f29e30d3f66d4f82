"""Server-side cost of the simulator's hot paths, measured without sockets or a client.

``email-router simulate bench`` runs it: GetItem with MimeContent in batches (what the router's
fetch does) and CreateItem SendAndSaveCopy (what its sends do), each timed as process CPU inside
the EWS endpoint, so the figures say how much of a shared 2-core machine the simulator takes.
"""

from __future__ import annotations

import base64
import os
import time
from dataclasses import dataclass

from router.simulator.auth import ConnectionAuth
from router.simulator.simulator import Simulator

SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
T = "http://schemas.microsoft.com/exchange/services/2006/types"
M = "http://schemas.microsoft.com/exchange/services/2006/messages"
USER, PASSWORD = "bench@contoso.com", "bench"


@dataclass(frozen=True)
class BenchResult:
    """Items (or sends) per second of server CPU, and microseconds per item."""

    name: str
    count: int
    cpu_seconds: float

    @property
    def per_second(self) -> float:
        return self.count / self.cpu_seconds if self.cpu_seconds else float("inf")

    @property
    def micros_each(self) -> float:
        return 1e6 * self.cpu_seconds / self.count


def _envelope(body: str) -> bytes:
    return (
        f'<s:Envelope xmlns:s="{SOAP}" xmlns:t="{T}" xmlns:m="{M}"><s:Header><t:RequestServerVersion '
        f'Version="Exchange2016"/></s:Header><s:Body>{body}</s:Body></s:Envelope>'
    ).encode()


def _message(size: int, i: int) -> bytes:
    filler = base64.encodebytes(os.urandom(size * 3 // 4)).decode()
    return (
        f"From: Customer {i} <c{i}@fabrikam.com>\r\nTo: {USER}\r\nSubject: message {i}\r\n"
        f"Message-ID: <{i}@fabrikam.com>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\n{filler}"
    ).encode()


def _auth() -> str:
    return "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()


def bench_fetch(items: int = 1000, batch: int = 100, size: int = 8192) -> BenchResult:
    """GetItem (IdOnly + MimeContent, Subject, DateTimeReceived) in batches of ``batch``."""
    sim = Simulator()
    sim.control.seed({"users": [{"address": USER, "password": PASSWORD}]})
    item_ids = [sim.control.inject(USER, _message(size, i)) for i in range(items)]
    shape = (
        "<m:ItemShape><t:BaseShape>IdOnly</t:BaseShape><t:AdditionalProperties>"
        '<t:FieldURI FieldURI="item:MimeContent"/><t:FieldURI FieldURI="item:Subject"/>'
        '<t:FieldURI FieldURI="item:DateTimeReceived"/></t:AdditionalProperties></m:ItemShape>'
    )
    bodies = [
        _envelope(
            f"<m:GetItem>{shape}<m:ItemIds>"
            + "".join(f'<t:ItemId Id="{i}"/>' for i in item_ids[n : n + batch])
            + "</m:ItemIds></m:GetItem>"
        )
        for n in range(0, items, batch)
    ]
    conn, auth = ConnectionAuth(), _auth()
    start = time.process_time()
    for body in bodies:
        reply = sim.endpoint.handle(body, auth, None, conn)
        assert reply.status == 200
    return BenchResult(
        f"GetItem MIME {size // 1024} KB, batches of {batch}", items, time.process_time() - start
    )


def bench_send(sends: int = 300) -> BenchResult:
    """CreateItem SendAndSaveCopy of a small HTML message to one internal and one external recipient."""
    sim = Simulator()
    sim.control.seed({"users": [{"address": USER, "password": PASSWORD}, {"address": "peer@contoso.com"}]})
    body = _envelope(
        '<m:CreateItem MessageDisposition="SendAndSaveCopy"><m:SavedItemFolderId>'
        '<t:DistinguishedFolderId Id="sentitems"/></m:SavedItemFolderId><m:Items><t:Message>'
        '<t:Subject>bench</t:Subject><t:Body BodyType="HTML">&lt;p&gt;'
        + "x"
        * 3000
        + "&lt;/p&gt;</t:Body><t:ToRecipients><t:Mailbox><t:EmailAddress>peer@contoso.com"
        "</t:EmailAddress></t:Mailbox><t:Mailbox><t:EmailAddress>far@fabrikam.com</t:EmailAddress>"
        "</t:Mailbox></t:ToRecipients></t:Message></m:Items></m:CreateItem>"
    )
    conn, auth = ConnectionAuth(), _auth()
    start = time.process_time()
    for _ in range(sends):
        assert sim.endpoint.handle(body, auth, None, conn).status == 200
    return BenchResult("CreateItem SendAndSaveCopy", sends, time.process_time() - start)

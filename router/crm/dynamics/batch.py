"""Web API requests carried in one OData ``$batch``: a GET too long for IIS, and many PATCHes at once.

IIS in front of an on-premises Web API refuses a URL whose query string passes 2,048 bytes
(``maxQueryString``, answered 404.15) or whose path passes 4,096 (``maxUrl``). CheckIncomingEmail is a
function, so every address travels in its query string: near 65 recipients it passes the limit. The
same GET then goes as the only part of a ``POST <base>$batch`` (multipart/mixed), where URL limits do
not apply, and the one response part is read as if it had come alone.

Writes of many rows (the Test Access results of every mailbox whose lanes first succeeded in the same
second) go as the parts of one ``$batch`` too, up to Dynamics' 1,000 requests a batch, each outside any
change set (independent: one mailbox gone from the CRM does not undo the others) and with
``Prefer: odata.continue-on-error`` so that the CRM answers every part.
"""

from __future__ import annotations

import email.parser
import email.policy
import json
import uuid
from collections.abc import Mapping, Sequence
from email.message import EmailMessage
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.structures import CaseInsensitiveDict

from router.crm.dynamics.client import JsonObject, WebApiClient, json_object
from router.crm.dynamics.errors import error_for, retry_after
from router.errors import CrmPermanentError

MAX_QUERY_STRING = 2048
MAX_URL = 4096
MAX_REQUESTS = 1000
"""Requests one ``$batch`` may carry (Dynamics' limit)."""


def fits_iis(url: str) -> bool:
    """Whether IIS's default request limits let ``url`` through (lengths in bytes, as sent)."""
    parts = urlsplit(url)
    return len(parts.query.encode()) <= MAX_QUERY_STRING and len(parts.path.encode()) <= MAX_URL


def get(client: WebApiClient, path: str) -> JsonObject:
    """GET ``path``: directly when its URL fits IIS's limits, else inside a ``$batch``."""
    url = client.url(path)
    if fits_iis(url):
        return client.get(path)
    (inner,) = _send(client, [_part("GET", url, {"Accept": "application/json"}, b"")], [url])
    if not 200 <= inner.status_code < 300:
        raise error_for(inner, "GET", retry_after(inner, client.clock.now()))
    return json_object(inner)


def patch_all(client: WebApiClient, changes: Sequence[tuple[str, Mapping[str, Any]]]) -> None:
    """PATCH each ``(path, values)`` with ``If-Match: *`` (no upsert), ``MAX_REQUESTS`` to a ``$batch``.

    Every part is answered; the first refused one is raised (after the others were written: a PATCH
    of the same values again is harmless, so the caller may repeat the lot or write one by one).
    """
    headers = {"Content-Type": "application/json", "If-Match": "*"}
    for start in range(0, len(changes), MAX_REQUESTS):
        chunk = changes[start:start + MAX_REQUESTS]
        urls = [client.url(path) for path, _ in chunk]
        parts = [_part("PATCH", url, headers, json.dumps(values).encode("utf-8"))
                 for url, (_, values) in zip(urls, chunk, strict=True)]
        answers = _send(client, parts, urls)
        refused = next((answer for answer in answers if not 200 <= answer.status_code < 300), None)
        if refused is not None:
            raise error_for(refused, "PATCH", retry_after(refused, client.clock.now()))


def _part(method: str, url: str, headers: Mapping[str, str], body: bytes) -> bytes:
    """One ``application/http`` part (without its boundary line) holding one request."""
    head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    return (f"Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n"
            f"{method} {url} HTTP/1.1\r\n{head}\r\n").encode() + body + b"\r\n"


def _send(client: WebApiClient, parts: Sequence[bytes], urls: Sequence[str]) -> list[requests.Response]:
    """POST ``parts`` (the requests to ``urls``) as one ``$batch``; the responses, one per part, in order."""
    boundary = f"batch_{uuid.uuid4()}"
    marker = f"--{boundary}\r\n".encode()
    body = b"".join(marker + part for part in parts) + f"--{boundary}--\r\n".encode()
    answer = client.request("POST", "$batch", content=body, headers={
        "Content-Type": f"multipart/mixed; boundary={boundary}", "Prefer": "odata.continue-on-error"})
    return _responses(answer, urls)


def _responses(answer: requests.Response, urls: Sequence[str]) -> list[requests.Response]:
    """The HTTP responses the batch answer's parts hold, as ``requests.Response`` objects."""
    head = f"Content-Type: {answer.headers.get('Content-Type', '')}\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + answer.content)
    parts = list(message.iter_parts()) if isinstance(message, EmailMessage) and message.is_multipart() else []
    payloads = [part.get_payload(decode=True) for part in parts]
    if len(payloads) != len(urls) or not all(isinstance(p, bytes) for p in payloads):
        raise CrmPermanentError(
            f"the CRM answered the $batch for {urlsplit(urls[0]).path} with {len(payloads)} response "
            f"part(s) for {len(urls)} request(s)",
            hint="check that the URL is the Web API root of Dynamics 365 (8.0 or later)")
    return [_response(payload, answer, url)
            for payload, url in zip(payloads, urls, strict=True) if isinstance(payload, bytes)]


def _response(payload: bytes, answer: requests.Response, url: str) -> requests.Response:
    status_head, _, content = payload.replace(b"\r\n", b"\n").partition(b"\n\n")
    status_line, *header_lines = status_head.decode("utf-8", "replace").split("\n")
    inner = requests.Response()
    inner.status_code = _status(status_line, url)
    inner.reason = status_line.split(" ", 2)[2] if status_line.count(" ") >= 2 else ""
    inner.headers = CaseInsensitiveDict({k.strip(): v.strip() for k, _, v in
                                         (line.partition(":") for line in header_lines) if k.strip()})
    inner._content = content.rstrip(b"\n")
    inner.url, inner.request, inner.encoding = url, answer.request, "utf-8"
    return inner


def _status(line: str, url: str) -> int:
    fields = line.split(" ")
    if len(fields) < 2 or not fields[0].startswith("HTTP/") or not fields[1].isdigit():
        raise CrmPermanentError(f"the CRM's $batch answer for {urlsplit(url).path} holds no HTTP response "
                                f"({line[:80]!r})", hint="check that the URL is the Web API root")
    return int(fields[1])

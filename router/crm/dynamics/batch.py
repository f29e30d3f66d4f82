"""A GET too long for IIS, sent inside an OData ``$batch`` instead.

IIS in front of an on-premises Web API refuses a URL whose query string passes 2,048 bytes
(``maxQueryString``, answered 404.15) or whose path passes 4,096 (``maxUrl``). CheckIncomingEmail is a
function, so every address travels in its query string: near 65 recipients it passes the limit. The
same GET then goes as the only part of a ``POST <base>$batch`` (multipart/mixed), where URL limits do
not apply, and the one response part is read as if it had come alone.
"""

from __future__ import annotations

import email.parser
import email.policy
import uuid
from email.message import EmailMessage
from urllib.parse import urlsplit

import requests
from requests.structures import CaseInsensitiveDict

from router.crm.dynamics.client import JsonObject, WebApiClient, json_object
from router.crm.dynamics.errors import error_for, retry_after
from router.errors import CrmPermanentError

MAX_QUERY_STRING = 2048
MAX_URL = 4096


def fits_iis(url: str) -> bool:
    """Whether IIS's default request limits let ``url`` through (lengths in bytes, as sent)."""
    parts = urlsplit(url)
    return len(parts.query.encode()) <= MAX_QUERY_STRING and len(parts.path.encode()) <= MAX_URL


def get(client: WebApiClient, path: str) -> JsonObject:
    """GET ``path``: directly when its URL fits IIS's limits, else inside a ``$batch``."""
    url = client.url(path)
    if fits_iis(url):
        return client.get(path)
    boundary = f"batch_{uuid.uuid4()}"
    body = (f"--{boundary}\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n"
            f"GET {url} HTTP/1.1\r\nAccept: application/json\r\n\r\n--{boundary}--\r\n").encode()
    answer = client.request("POST", "$batch", content=body,
                            headers={"Content-Type": f"multipart/mixed; boundary={boundary}"})
    inner = _only_response(answer, url)
    if not 200 <= inner.status_code < 300:
        raise error_for(inner, "GET", retry_after(inner, client.clock.now()))
    return json_object(inner)


def _only_response(answer: requests.Response, url: str) -> requests.Response:
    """The HTTP response held by the batch answer's single part, as a ``requests.Response``."""
    head = f"Content-Type: {answer.headers.get('Content-Type', '')}\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + answer.content)
    parts = list(message.iter_parts()) if isinstance(message, EmailMessage) and message.is_multipart() else []
    payload = parts[0].get_payload(decode=True) if len(parts) == 1 else None
    if not isinstance(payload, bytes):
        raise CrmPermanentError(
            f"the CRM answered the $batch for {urlsplit(url).path} without exactly one response part",
            hint="check that the URL is the Web API root of Dynamics 365 (8.0 or later)")
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

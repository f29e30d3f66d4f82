"""OData ``$batch``: several Web API requests carried in one ``POST <base>$batch`` (multipart/mixed).

Each part is ``application/http`` holding one request (request line, headers, body); the answer is a
multipart/mixed body with one ``application/http`` part per request, in order, each holding that
request's full HTTP response. Inner requests are served exactly as if sent alone, by the caller's
identity, and are not subject to IIS's URL limits (they travel in the body). That is why the Dynamics
adapter sends a CheckIncomingEmail whose URL would pass those limits this way.

Change sets (a nested multipart of writes run in one transaction) are refused: no caller of the
facade needs them. As Dynamics, a batch holds at most 1,000 requests.
"""

from __future__ import annotations

import email.parser
import email.policy
import json
import uuid
from collections.abc import Callable
from dataclasses import replace
from email.message import EmailMessage
from http import HTTPStatus
from urllib.parse import parse_qsl, urlsplit

from router.crm.embedded.rows import invalid
from router.crm.facade.routing import Reply, Request, split_path

MAX_REQUESTS = 1000
Serve = Callable[[Request], Reply]


def serve_batch(request: Request, serve: Serve) -> Reply:
    """Answer a ``$batch`` POST: parse its parts, ``serve`` each inner request, compose the answer."""
    parts = _parts(request)
    if len(parts) > MAX_REQUESTS:
        raise invalid(f"the batch holds {len(parts)} requests; at most {MAX_REQUESTS} are allowed",
                      hint="split the work into several $batch requests")
    replies = [serve(_inner(request, part)) for part in parts]
    boundary = f"batchresponse_{uuid.uuid4()}"
    body = b"".join(_response_part(boundary, reply) for reply in replies) + f"--{boundary}--\r\n".encode()
    return Reply(200, raw=body, content_type=f"multipart/mixed; boundary={boundary}")


def _parts(request: Request) -> list[bytes]:
    content_type = request.headers.get("Content-Type", "")
    if not content_type.lower().startswith("multipart/mixed") or "boundary=" not in content_type:
        raise invalid("a $batch request must be multipart/mixed with a boundary",
                      hint="send Content-Type: multipart/mixed; boundary=batch_<id>")
    head = f"Content-Type: {content_type}\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + request.body)
    if not isinstance(message, EmailMessage) or not message.is_multipart():
        raise invalid("the $batch body holds no parts", hint="separate each request with the boundary")
    parts = []
    for part in message.iter_parts():
        if part.get_content_type() == "multipart/mixed":
            raise invalid("change sets are not supported by this Web API facade",
                          hint="send each request as its own part of the batch")
        if part.get_content_type() != "application/http":
            raise invalid(f"a $batch part is {part.get_content_type()}, not application/http",
                          hint="give every part Content-Type: application/http")
        payload = part.get_payload(decode=True)
        parts.append(payload if isinstance(payload, bytes) else b"")
    return parts


def _inner(outer: Request, payload: bytes) -> Request:
    """The request one part holds, relative to the batch's own Web API root."""
    head, _, body = payload.replace(b"\r\n", b"\n").partition(b"\n\n")
    lines = head.decode("utf-8", "replace").strip("\n").split("\n")
    method, _, rest = lines[0].partition(" ")
    target = rest.rsplit(" ", 1)[0] if rest.endswith(("HTTP/1.1", "HTTP/1.0")) else rest
    url = urlsplit(target)
    path = url.path if url.path.startswith("/") else urlsplit(outer.base_url).path + url.path
    located = split_path(path)
    if located is None or not method.isalpha():
        raise invalid(f"a $batch part does not hold a Web API request: {lines[0][:200]!r}",
                      hint="start each part with e.g. 'GET <base>WhoAmI() HTTP/1.1'")
    version, _, segments = located
    if segments[:1] == ("$batch",):
        raise invalid("a $batch part cannot itself be a $batch", hint="send each request as its own part")
    headers = dict(outer.headers)
    headers.update(_headers(lines[1:]))
    return replace(outer, method=method.upper(), version=version, segments=segments,
                   query=dict(parse_qsl(url.query, keep_blank_values=True)), raw_query=url.query,
                   headers=headers, body=body.strip(b"\n") if method.upper() != "GET" else b"")


def _headers(lines: list[str]) -> dict[str, str]:
    found = {}
    for line in lines:
        name, sep, value = line.partition(":")
        if sep:
            found[name.strip()] = value.strip()
    return found


def _response_part(boundary: str, reply: Reply) -> bytes:
    payload = reply.raw if reply.raw is not None else (
        json.dumps(reply.body).encode("utf-8") if reply.body is not None else b"")
    reason = HTTPStatus(reply.status).phrase if reply.status in HTTPStatus._value2member_map_ else ""
    lines = [f"HTTP/1.1 {reply.status} {reason}", *(f"{k}: {v}" for k, v in reply.headers.items())]
    if payload:
        lines.append(f"Content-Type: {reply.content_type}")
    lines.append("OData-Version: 4.0")
    head = (f"--{boundary}\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n"
            + "\r\n".join(lines) + "\r\n\r\n")
    return head.encode("utf-8") + payload + b"\r\n"

"""The HTTP side of the facade: one handler per connection (HTTP/1.1 keep-alive, as NTLM needs).

Per request: read the body (refusing one larger than the limit with 413), serve the OAuth token
endpoint, authenticate (NTLM on the connection, or a bearer token), apply any planned fault, then hand
the request to ``dispatch`` and write its reply.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
import socket
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlsplit

from router.crm.codes import ErrorCode
from router.crm.facade import iis
from router.crm.facade.auth import ConnectionState
from router.crm.facade.dispatch import dispatch
from router.crm.facade.faults import DROP, Fault
from router.crm.facade.journal import DROPPED
from router.crm.facade.routing import Reply, Request, split_path

if TYPE_CHECKING:
    from router.crm.facade.server import FacadeHttpServer

log = logging.getLogger("router.crm.facade")
DISCARD_LIMIT = 1 << 30
_TOKEN_PATH = re.compile(r"^/(?:adfs|[^/]+)/oauth2/(?:v2\.0/)?token$")


def _error(status: int, code: str, message: str) -> Reply:
    return Reply(status, {"error": {"code": code, "message": message}})


class FacadeHandler(BaseHTTPRequestHandler):
    """Serves the Web API for one client connection."""

    protocol_version = "HTTP/1.1"
    server_version = "email-router-crm-facade"
    timeout = 60
    server: FacadeHttpServer

    def setup(self) -> None:
        super().setup()
        # Headers and body leave in separate writes; without TCP_NODELAY, Nagle's algorithm and the
        # client's delayed ACK would hold every reply back by about 40 ms.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.state = ConnectionState()

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PATCH(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def log_message(self, format: str, *args: object) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def _serve(self) -> None:
        facade = self.server.facade
        length = int(self.headers.get("Content-Length") or 0)
        refused = iis.refusal(self.path, facade.limits)
        if refused is not None:
            # IIS refuses before the application reads the body; the connection is not reused.
            self.close_connection = True
            self._send(refused)
            return
        if length > facade.max_request_bytes:
            self._discard(length)
            message = (
                f"The request body of {length} bytes exceeds the limit of {facade.max_request_bytes} bytes."
            )
            self._send(_error(413, ErrorCode.REQUEST_TOO_LARGE.value, message))
            return
        body = self.rfile.read(length) if length else b""
        url = urlsplit(self.path)
        if self.command == "POST" and _TOKEN_PATH.match(url.path):
            self._token(body)
            return
        located = split_path(url.path)
        if located is None:
            self._send(_error(404, ErrorCode.SEGMENT_NOT_FOUND.value, f"No Web API resource at {url.path}."))
            return
        principal = self._authenticate()
        if principal is None:
            return
        fault = facade.faults.take(self.command, self.path)
        if fault is not None:
            self._fault(fault)
            return
        version, prefix, segments = located
        request = Request(
            method=self.command,
            version=version,
            base_url=f"{facade.scheme}://{self.headers.get('Host')}{prefix}",
            segments=segments,
            query=dict(parse_qsl(url.query, keep_blank_values=True)),
            raw_query=url.query,
            headers={k: v for k, v in self.headers.items()},
            body=body,
            principal=principal,
        )
        holders = facade.authenticator.credentials.act_on_behalf
        reply = dispatch(facade.crm, request, facade.behaviour, holders)
        facade.journal.record(self.command, self.path, reply.status)
        self._send(reply)

    def _discard(self, length: int) -> None:
        # Read the refused body so the client sees the 413 rather than a reset connection; past
        # DISCARD_LIMIT the connection is closed instead.
        if length > DISCARD_LIMIT:
            self.close_connection = True
            return
        while length > 0:
            chunk = self.rfile.read(min(length, 1 << 16))
            if not chunk:
                break
            length -= len(chunk)

    def _authenticate(self) -> str | None:
        auth = self.server.facade.authenticator
        header = self.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() in ("ntlm", "negotiate") and token:
            try:
                challenge = auth.ntlm_step(self.state, token.strip())
            except PermissionError as exc:
                log.info("NTLM authentication refused: %s", exc)
                self._unauthorized("The credentials were refused.")
                return None
            if challenge is not None:
                reply = _error(401, "0x80040220", "NTLM challenge.")
                reply.headers["WWW-Authenticate"] = f"{scheme} {challenge}"
                self._send(reply)
                return None
        elif scheme.lower() == "bearer":
            principal = auth.bearer(token.strip())
            if principal is None:
                self._unauthorized("The access token is invalid.")
            return principal
        if self.state.principal is not None:
            return self.state.principal
        if auth.credentials.anonymous_principal is not None:
            return auth.credentials.anonymous_principal
        self._unauthorized("The request is not authenticated.")
        return None

    def _unauthorized(self, message: str) -> None:
        reply = _error(401, "0x80040220", message)
        self._send(reply, challenges=self.server.facade.authenticator.schemes)

    def _token(self, body: bytes) -> None:
        form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        basic = None
        scheme, _, value = self.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "basic":
            try:
                user, _, secret = base64.b64decode(value).decode("utf-8").partition(":")
                basic = (user, secret)
            except (binascii.Error, UnicodeDecodeError):
                basic = None
        answer = self.server.facade.authenticator.issue_token(form, basic)
        self._send(Reply(answer.status, answer.body, content_type="application/json"))

    def _fault(self, fault: Fault) -> None:
        if fault.status == DROP:
            self.server.facade.journal.record(self.command, self.path, DROPPED)
            self.close_connection = True
            return
        reply = _error(fault.status, fault.code, fault.message)
        self.server.facade.journal.record(self.command, self.path, fault.status)
        if fault.retry_after is not None:
            reply.headers["Retry-After"] = f"{fault.retry_after:g}"
        self._send(reply)

    def _send(self, reply: Reply, challenges: list[str] | None = None) -> None:
        payload = (
            reply.raw
            if reply.raw is not None
            else (json.dumps(reply.body).encode("utf-8") if reply.body is not None else b"")
        )
        self.send_response(reply.status)
        for challenge in challenges or []:
            self.send_header("WWW-Authenticate", challenge)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if payload:
            self.send_header("Content-Type", reply.content_type)
        self.send_header("OData-Version", "4.0")
        self.send_header("Content-Length", str(len(payload)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if payload and self.command != "HEAD":
            self.wfile.write(payload)

"""A small EWS server for the EWS-layer tests: canned answers over real HTTP(S) on 127.0.0.1.

It is not the simulator (that lives in router/simulator); it answers just what these tests ask —
GetFolder, FindItem, GetItem, SyncFolderItems, GetStreamingEvents, Autodiscover GetUserSettings and
an OAuth token endpoint — records every request, can insist on Basic or Bearer authentication, and
can be told to fail the next requests with a given status, headers and body.
"""

from __future__ import annotations

import base64
import json
import socket
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

from lxml import etree

from . import canned

EWS_PATH = "/EWS/Exchange.asmx"
AUTODISCOVER_PATH = "/autodiscover/autodiscover.svc"
TOKEN_PATH = "/oauth2/token"


@dataclass
class Recorded:
    """One request as the server saw it."""

    path: str
    operation: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Failure:
    """A canned failure for the next request(s)."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class FakeState:
    """What the server serves and what it saw."""

    messages: list[canned.CannedMessage] = field(default_factory=lambda: canned.mailbox_messages(3))
    basic: tuple[str, str] | None = None
    token: str | None = None
    client_secret: str = "s3cret"
    redirect_address: str | None = None
    autodiscover_error: str | None = None
    failures: list[Failure] = field(default_factory=list)
    requests: list[Recorded] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def operations(self) -> list[str]:
        with self.lock:
            return [r.operation for r in self.requests]


class FakeEws:
    """The server: start it, point exchangelib at ``ews_url``, stop it."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.state = FakeState()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self.state))
        self._server.daemon_threads = True
        if tls is not None:
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
        self.scheme = "https" if tls is not None else "http"
        # A short poll interval lets ``stop`` return at once instead of after half a second.
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02},
                                        name="fake-ews", daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"{self.scheme}://{host!s}:{port}"

    @property
    def ews_url(self) -> str:
        return self.base_url + EWS_PATH

    @property
    def autodiscover_url(self) -> str:
        return self.base_url + AUTODISCOVER_PATH

    @property
    def token_url(self) -> str:
        return self.base_url + TOKEN_PATH

    def start(self) -> FakeEws:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)


def _operation(path: str, body: bytes) -> str:
    if path == TOKEN_PATH:
        return "token"
    try:
        root = etree.fromstring(body)
    except etree.XMLSyntaxError:
        return "unparsable"
    found = root.find(f"{{{canned.S}}}Body")
    if found is None or len(found) == 0:
        return "unknown"
    return str(etree.QName(found[0]).localname)


def _handler_for(state: FakeState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            super().setup()
            # Small responses would otherwise wait for delayed ACKs (40 ms each).
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def log_message(self, format: str, *args: object) -> None:
            """Keep test output quiet."""

        def do_GET(self) -> None:
            self._send(404, b"not found", {"Content-Type": "text/plain"})

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            operation = _operation(self.path, body)
            with state.lock:
                state.requests.append(Recorded(self.path, operation, dict(self.headers.items()), body))
                failure = state.failures.pop(0) if state.failures and operation != "token" else None
            if failure is not None:
                self._send(failure.status, failure.body, failure.headers)
            elif self.path == TOKEN_PATH:
                self._token(body)
            elif not self._authorized():
                self._send(401, b"", {"WWW-Authenticate": 'Basic realm="fake"'})
            elif operation == "GetStreamingEvents":
                self._stream(canned.streaming_events("SUB-1", [m.item_id for m in state.messages[:2]]))
            else:
                self._send(200, _answer(state, operation, body), {"Content-Type": "text/xml; charset=utf-8"})

        def _authorized(self) -> bool:
            given = self.headers.get("Authorization", "")
            if state.basic is not None:
                user, password = state.basic
                return given == "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
            if state.token is not None:
                return given == f"Bearer {state.token}"
            return True

        def _token(self, body: bytes) -> None:
            form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
            secret_ok = form.get("client_secret") == state.client_secret
            if not secret_ok or form.get("grant_type") != "client_credentials":
                refusal = {"error": "invalid_client", "error_description": "bad client credentials"}
                self._send(401, json.dumps(refusal).encode(), {"Content-Type": "application/json"})
                return
            state.token = "tok-" + form.get("client_id", "")
            answer = {"access_token": state.token, "token_type": "Bearer", "expires_in": 3600}
            self._send(200, json.dumps(answer).encode(), {"Content-Type": "application/json"})

        def _stream(self, documents: list[bytes]) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/xml; charset=utf-8")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for doc in documents:
                self.wfile.write(f"{len(doc):x}\r\n".encode() + doc + b"\r\n")
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")

        def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


def _requested_ids(body: bytes) -> list[str]:
    root = etree.fromstring(body)
    return [str(e.get("Id")) for e in root.iter(f"{{{canned.T}}}ItemId")]


def _answer(state: FakeState, operation: str, body: bytes) -> bytes:
    by_id = {m.item_id: m for m in state.messages}
    answers: dict[str, Callable[[], bytes]] = {
        "GetFolder": lambda: canned.folder("INBOX", "Inbox", "inbox", len(state.messages)),
        "FindItem": lambda: canned.find_item(state.messages),
        "GetItem": lambda: canned.get_item([by_id.get(i) for i in _requested_ids(body)]),
        "SyncFolderItems": lambda: canned.sync_folder_items(state.messages, deleted=["GONE-1"]),
        "GetUserSettingsRequestMessage": lambda: canned.user_settings(
            _asked_mailbox(body), _ews_url_of(body), redirect_address=_redirect(state, body),
            error_code=state.autodiscover_error),
    }
    answer = answers.get(operation)
    if answer is None:
        return canned.fault("ErrorInvalidRequest", f"the fake does not answer {operation}")
    return answer()


def _ews_url_of(body: bytes) -> str:
    """The EWS URL on the same server as the Autodiscover endpoint the request was sent to."""
    root = etree.fromstring(body)
    to = root.findtext(".//{http://www.w3.org/2005/08/addressing}To") or ""
    return to.replace(AUTODISCOVER_PATH, EWS_PATH)


def _asked_mailbox(body: bytes) -> str:
    return etree.fromstring(body).findtext(f".//{{{canned.A}}}Mailbox") or ""


def _redirect(state: FakeState, body: bytes) -> str | None:
    asked = _asked_mailbox(body)
    if state.redirect_address and asked.lower() != state.redirect_address.lower():
        return state.redirect_address
    return None

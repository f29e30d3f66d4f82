"""The EWS endpoint: authenticate, parse, apply scripted faults and headers, run the operation, answer.

Every answer that has a SOAP body carries ServerVersionInfo, faults included. Nothing a client sends
can crash the server: unexpected exceptions become an ErrorInternalServerError fault.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field

from lxml import etree

from router.simulator import operations
from router.simulator.auth import Authenticator, ConnectionAuth
from router.simulator.config import ServerConfig
from router.simulator.faults import FaultKind, FaultPlan
from router.simulator.model import User
from router.simulator.operations.notifications import stream_events
from router.simulator.permissions import Principal, may_impersonate
from router.simulator.soap import EnvelopeWriter, Fault, SoapRequest, parse_request
from router.simulator.store import Store
from router.simulator.validation import SchemaValidator
from router.simulator.xml import T_NS, children, local

log = logging.getLogger(__name__)
XML = "text/xml; charset=utf-8"


@dataclass
class Reply:
    """What the HTTP layer sends: status, headers and a body (bytes, or chunks for streaming)."""

    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    stream: Iterator[bytes] | None = None
    delay: float = 0.0
    drop: bool = False
    gone: threading.Event | None = None
    """Set by the HTTP layer when the client of a streamed reply has closed its connection."""


@dataclass(frozen=True)
class RequestRecord:
    """One served EWS request, for tests and testers to inspect."""

    operation: str
    principal: str
    acting: str
    impersonated: bool
    anchor: str | None
    version: str | None
    status: int
    codes: tuple[str, ...]


class EwsEndpoint:
    """Serves POSTs to /EWS/Exchange.asmx."""

    def __init__(
        self,
        store: Store,
        config: ServerConfig,
        auth: Authenticator,
        faults: FaultPlan,
        validator: SchemaValidator | None = None,
        stopping: threading.Event | None = None,
    ) -> None:
        self.store = store
        self.config = config
        self.auth = auth
        self.faults = faults
        self.validator = validator
        self.stopping = stopping or threading.Event()
        self.writer = EnvelopeWriter(config.build)
        self.log: deque[RequestRecord] = deque(maxlen=10000)
        if validator is not None:
            validator.check("response", "ServerVersionInfo", self.writer.header_element())

    def fault(self, fault: Fault) -> Reply:
        return Reply(fault.status, [("Content-Type", XML)], self.writer.fault(fault))

    def handle(
        self, body: bytes, authorization: str | None, anchor: str | None, conn: ConnectionAuth
    ) -> Reply:
        """Serve one POST (``authorization``, ``anchor``: the Authorization and X-AnchorMailbox headers)."""
        result = self.auth.authenticate(authorization, conn)
        if result.principal is None:
            return Reply(401, result.headers)
        try:
            request = parse_request(body)
        except Fault as fault:
            return self.fault(fault)
        scripted = self._scripted(request.operation)
        if scripted is not None and scripted.delay == 0.0:
            return scripted
        reply = self._serve(request, result.principal, anchor)
        if scripted is not None:
            reply.delay = scripted.delay
        return reply

    def too_large(self) -> Reply:
        return self.fault(
            Fault("ErrorMessageSizeExceeded", "The request exceeds the maximum size this server accepts.")
        )

    def _scripted(self, operation: str) -> Reply | None:
        fault = self.faults.pick(operation)
        if fault is None:
            return None
        kind = fault.kind
        if kind is FaultKind.SERVER_BUSY:
            return self.fault(
                Fault(
                    "ErrorServerBusy",
                    "The server cannot service this request right now. Try again later.",
                    {"BackOffMilliseconds": str(fault.back_off_ms)},
                )
            )
        if kind is FaultKind.HTTP_500:
            return Reply(
                500,
                [("Content-Type", "text/html")],
                b"<html><body>Server Error in '/EWS' Application.</body></html>",
            )
        if kind is FaultKind.HTTP_503:
            return Reply(
                503,
                [("Content-Type", "text/html"), ("Retry-After", "1")],
                b"<html><body>Service Unavailable</body></html>",
            )
        if kind is FaultKind.HTTP_401:
            return Reply(401, self.auth.challenge().headers)
        if kind is FaultKind.DROP:
            return Reply(0, drop=True)
        if kind is FaultKind.MALFORMED:
            return Reply(
                200,
                [("Content-Type", XML)],
                b'<?xml version="1.0"?><s:Envelope xmlns:s="'
                b'http://schemas.xmlsoap.org/soap/envelope/"><s:Body><m:Broken',
            )
        return Reply(200, delay=fault.delay_seconds)

    def _acting(self, request: SoapRequest, principal: Principal) -> tuple[User, bool]:
        if request.impersonation is not None:
            kind, value = request.impersonation
            target = (
                next((u for u in self.store.users.values() if u.sid == value), None)
                if kind == "SID"
                else self.store.user(value) or self.store.logon(value)
            )
            if target is None:
                raise Fault("ErrorNonExistentMailbox", "The SMTP address has no mailbox associated with it.")
            if not may_impersonate(principal, target):
                raise Fault(
                    "ErrorImpersonateUserDenied",
                    "The account does not have permission to impersonate the requested user.",
                )
            return target, True
        if principal.user is None:
            raise Fault(
                "ErrorInvalidExchangeImpersonationHeaderData",
                "ExchangeImpersonation SOAP header must be present for this type of OAuth token.",
            )
        return principal.user, False

    def _serve(self, request: SoapRequest, principal: Principal, anchor: str | None) -> Reply:
        handler = operations.OPERATIONS.get(request.operation)
        streaming = request.operation == "GetStreamingEvents"
        try:
            if request.version is not None and not self.config.build.accepts(request.version):
                raise Fault("ErrorInvalidServerVersion", "The specified server version is invalid.")
            if handler is None and not streaming:
                raise Fault(
                    "ErrorInvalidRequest",
                    f"The request is invalid: '{request.operation}' is not an "
                    "operation this server supports.",
                )
            if anchor and "@" in anchor and self.store.user(anchor) is None:
                raise Fault("ErrorNonExistentMailbox", "The SMTP address has no mailbox associated with it.")
            user, impersonated = self._acting(request, principal)
        except Fault as fault:
            self._record(request, principal.name, "", False, anchor, fault.status, (fault.code,))
            return self.fault(fault)
        self._validate("request", request)
        ctx = operations.Ctx(self.store, self.config, principal, user, request, impersonated, anchor)
        if streaming:
            gone = threading.Event()
            return Reply(200, [("Content-Type", XML)], stream=self._stream(ctx, gone), gone=gone)
        try:
            with self.store.lock:
                body = handler(ctx, request.body)  # type: ignore[misc]
        except Exception:
            log.exception("operation %s failed", request.operation)
            return self.fault(
                Fault("ErrorInternalServerError", "An internal server error occurred. The operation failed.")
            )
        codes = tuple(el.text or "" for el in body.iter(f"{{{body.nsmap.get('m')}}}ResponseCode"))
        self._record(request, principal.name, user.address, impersonated, anchor, 200, codes)
        if self.validator is not None:
            self.validator.check("response", request.operation, body)
        return Reply(200, [("Content-Type", XML)], self.writer.response(body))

    def _stream(self, ctx: operations.Ctx, gone: threading.Event) -> Iterator[bytes]:
        """The bodies of one GetStreamingEvents; the request is recorded with its first body's codes (a
        refused connection shows ErrorExceededConnectionCount in the log)."""
        recorded = False
        for body in stream_events(ctx, ctx.request.body, _Either(self.stopping, gone)):
            if not recorded:
                codes = tuple(el.text or "" for el in body.iter(f"{{{body.nsmap.get('m')}}}ResponseCode"))
                self._record(ctx.request, ctx.principal.name, ctx.user.address, ctx.impersonated, ctx.anchor,
                             200, codes)
                recorded = True
            if self.validator is not None:
                self.validator.check("response", "GetStreamingEvents", body)
            yield self.writer.response(body)

    def _validate(self, direction: str, request: SoapRequest) -> None:
        if self.validator is None:
            return
        self.validator.check(direction, request.operation, request.body)
        for header in children(request.header):
            if etree.QName(header).namespace == T_NS:
                self.validator.check(direction, local(header), header)

    def _record(
        self,
        request: SoapRequest,
        principal: str,
        acting: str,
        impersonated: bool,
        anchor: str | None,
        status: int,
        codes: tuple[str, ...],
    ) -> None:
        self.log.append(
            RequestRecord(
                request.operation, principal, acting, impersonated, anchor, request.version, status, codes
            )
        )


def sleep_for(reply: Reply) -> None:
    """Apply a scripted slow response."""
    if reply.delay > 0:
        time.sleep(reply.delay)


class _Either:
    """Set when either event is: the server stops, or the streaming client went away."""

    def __init__(self, first: threading.Event, second: threading.Event) -> None:
        self._events = (first, second)

    def is_set(self) -> bool:
        return any(e.is_set() for e in self._events)

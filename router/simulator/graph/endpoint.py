"""The Graph endpoint: authenticate the app, check its permissions and access policy, throttle, serve.

Every failure is Graph's JSON error. A missing, unknown, expired or non-Graph token is 401
``InvalidAuthenticationToken``. Each mailbox serves at most ``concurrency`` requests of one app at once
(Graph's limit is 4 per app per mailbox); one more is 429 ``ApplicationThrottled`` with Retry-After.
``peak`` records the most concurrent requests of one app each mailbox has seen. Scripted faults target the
operation names of ``routes`` (``graph.delta``...): ``server_busy`` is a 429 with Retry-After of its
back-off, ``http_503`` a 503 with Retry-After, ``slow`` holds the mailbox's slot while it waits.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections import deque
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

from router.simulator.auth import TokenIssuer
from router.simulator.config import ServerConfig
from router.simulator.dispatch import Reply
from router.simulator.faults import FaultKind, FaultPlan
from router.simulator.graph import routes
from router.simulator.graph.batch import run_batch
from router.simulator.graph.context import GraphCtx, GraphResponse
from router.simulator.graph.resources import GraphError
from router.simulator.graph.tokens import is_graph
from router.simulator.model import App, User
from router.simulator.store import Store

log = logging.getLogger(__name__)
POLICY_DENIED = (
    "Access to OData is disabled: [RAOP] : Blocked by tenant configured AppOnly AccessPolicy settings."
)


@dataclass(frozen=True)
class GraphRecord:
    """One served Graph request (a $batch's steps each get one)."""

    operation: str
    app: str
    mailbox: str
    status: int
    code: str


class GraphEndpoint:
    """Serves ``/v1.0/...`` for application tokens."""

    def __init__(
        self, store: Store, config: ServerConfig, tokens: TokenIssuer, faults: FaultPlan, concurrency: int = 4
    ) -> None:
        self.store = store
        self.config = config
        self.tokens = tokens
        self.faults = faults
        self.concurrency = concurrency
        self.log: deque[GraphRecord] = deque(maxlen=10000)
        self.peak: dict[str, int] = {}
        self._active: dict[str, int] = {}
        self._lock = threading.Lock()

    def handle(self, method: str, target: str, headers: dict[str, str], body: bytes, base: str) -> Reply:
        """Serve one HTTP request (``target``: path and query; ``headers`` with lower-case names)."""
        app = self._app(headers.get("authorization", ""))
        if app is None:
            err = GraphError(
                401,
                "InvalidAuthenticationToken",
                "Access token is empty or invalid.",
                [("WWW-Authenticate", 'Bearer realm="", error="invalid_token"')],
            )
            return self._reply(GraphResponse.error(err))
        path = routes.normalise(urlsplit(target).path)[len("/v1.0") :]
        if method == "POST" and path.lower() == "/$batch":
            return self._reply(run_batch(self, app, headers, body, base))
        return self._reply(self.serve(app, method, target, headers, body, base))

    def serve(
        self, app: App, method: str, target: str, headers: dict[str, str], body: bytes, base: str
    ) -> GraphResponse:
        """Serve one request or $batch step (``target`` relative to ``/v1.0`` or including it)."""
        parts = urlsplit(target)
        path = routes.normalise(parts.path)
        path = path[len("/v1.0") :] if path.lower().startswith("/v1.0/") else path
        found = routes.match(method, path)
        if found is None:
            allowed = routes.allowed_methods(path)
            code = ("ErrorInvalidRequest", 405) if allowed else ("ResourceNotFound", 404)
            return GraphResponse.error(
                GraphError(code[1], code[0], f"Resource not found for {method} {path}.")
            )
        route, params = found
        user = self.store.user(params["user"])
        mailbox = user.key if user else params["user"].lower()
        try:
            user = self._authorise(app, route, user, params["user"])
            response = self._throttled(
                route.operation,
                mailbox,
                GraphCtx(
                    self.store,
                    self.config,
                    app,
                    user,
                    method,
                    params,
                    dict(parse_qsl(parts.query)),
                    headers,
                    body,
                    base,
                ),
                route,
            )
        except GraphError as err:
            response = GraphResponse.error(err)
        self._record(route.operation, app, mailbox, response)
        return response

    def _app(self, authorization: str) -> App | None:
        scheme, _, value = authorization.strip().partition(" ")
        if scheme.lower() != "bearer":
            return None
        issued = self.tokens.lookup(value.strip())
        if issued is None or not is_graph(issued.audience):
            return None
        return issued.principal.app

    def _authorise(self, app: App, route: routes.Route, user: User | None, name: str) -> User:
        if user is None:
            raise GraphError(404, "ErrorInvalidUser", f"The requested user '{name}' is invalid.")
        if route.permission not in app.graph_permissions:
            raise GraphError(403, "ErrorAccessDenied", "Access is denied. Check credentials and try again.")
        if app.graph_mailboxes is not None and user.key not in app.graph_mailboxes:
            raise GraphError(403, "ErrorAccessDenied", POLICY_DENIED)
        return user

    def _throttled(self, operation: str, mailbox: str, ctx: GraphCtx, route: routes.Route) -> GraphResponse:
        slot = f"{ctx.app.client_id}|{mailbox}"  # Graph counts per app per mailbox
        with self._lock:
            if self._active.get(slot, 0) >= self.concurrency:
                raise GraphError(
                    429,
                    "ApplicationThrottled",
                    "Application is over its MailboxConcurrency limit.",
                    [("Retry-After", "1")],
                )
            self._active[slot] = self._active.get(slot, 0) + 1
            self.peak[mailbox] = max(self.peak.get(mailbox, 0), self._active[slot])
        try:
            broken = self._fault(operation)
            return broken if broken is not None else self._run(route, ctx)
        finally:
            with self._lock:
                self._active[slot] -= 1

    def _fault(self, operation: str) -> GraphResponse | None:
        """Apply a scripted fault: raise Graph's error, or return a broken answer, or wait."""
        fault = self.faults.pick(operation)
        if fault is None:
            return None
        if fault.kind is FaultKind.SERVER_BUSY:
            after = str(max(1, math.ceil(fault.back_off_ms / 1000)))
            raise GraphError(429, "TooManyRequests", "Too many requests.", [("Retry-After", after)])
        if fault.kind is FaultKind.HTTP_503:
            raise GraphError(503, "ServiceUnavailable", "Service unavailable.", [("Retry-After", "1")])
        if fault.kind is FaultKind.HTTP_500:
            raise GraphError(500, "generalException", "An internal server error occurred.")
        if fault.kind is FaultKind.HTTP_401:
            raise GraphError(
                401, "InvalidAuthenticationToken", "Lifetime validation failed, the token is expired."
            )
        if fault.kind is FaultKind.DROP:
            return GraphResponse(0, drop=True)
        if fault.kind is FaultKind.MALFORMED:
            return GraphResponse(200, b'{"value": [{"id": ', "application/json")
        time.sleep(fault.delay_seconds)
        return None

    def _run(self, route: routes.Route, ctx: GraphCtx) -> GraphResponse:
        try:
            with self.store.lock:
                return route.handler(ctx)
        except GraphError:
            raise
        except Exception:
            log.exception("Graph operation %s failed", route.operation)
            raise GraphError(500, "generalException", "An internal server error occurred.") from None

    def _record(self, operation: str, app: App, mailbox: str, response: GraphResponse) -> None:
        code = ""
        if response.status >= 400:
            try:
                code = str(json.loads(response.body)["error"]["code"])
            except (ValueError, KeyError, TypeError):
                code = str(response.status)
        self.log.append(GraphRecord(operation, app.client_id, mailbox, response.status, code))

    def record_batch(self, app: App, steps: int) -> None:
        self.log.append(GraphRecord("graph.batch", app.client_id, "", 200, str(steps)))

    @staticmethod
    def _reply(response: GraphResponse) -> Reply:
        headers = list(response.headers)
        if response.content_type:
            headers.append(("Content-Type", response.content_type))
        return Reply(response.status, headers, response.body, drop=response.drop)

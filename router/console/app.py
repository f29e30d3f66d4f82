"""The console's WSGI application: sign-in, sessions, CSRF, and dispatch to the pages and actions.

Every path needs a session except ``/login`` and ``/static/...``. Without one, a page request is
redirected to ``/login`` (303) and an API or htmx request gets 401. Every POST must carry the
session's CSRF token (form field ``csrf`` or header ``X-CSRF-Token``), else 403. Responses carry a
strict Content-Security-Policy (scripts from the console itself only) and are never cached.
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import PurePosixPath
from typing import Any, Protocol

from jinja2 import Environment, PackageLoader, select_autoescape
from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from router.clock import Clock
from router.config.published import PublishedConfig
from router.console.history import MetricHistory
from router.console.password import console_password_hash, verify_password
from router.console.sessions import LOGIN_COOKIE, SESSION_COOKIE, LoginLimiter, Session, Sessions, csrf_ok
from router.errors import RouterError
from router.home import Home
from router.runtime.lane import LaneKey
from router.state import StateStore

log = logging.getLogger(__name__)

CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
       "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
STATIC_TYPES = {".js": "text/javascript", ".css": "text/css", ".txt": "text/plain", ".svg": "image/svg+xml"}


class RunningService(Protocol):
    """What the console asks of the running service (``router.service.service.Service`` fits)."""

    @property
    def config(self) -> PublishedConfig | None: ...

    def wake(self, key: LaneKey) -> bool: ...

    def resume_released(self) -> list[LaneKey]: ...


@dataclass
class Context:
    """One request as a page or action sees it."""

    console: Console
    request: Request
    session: Session
    args: dict[str, Any]


Handler = Callable[[Context], Response]


class Console:
    """The console of one home; a WSGI application (``__call__``)."""

    def __init__(self, home: Home, clock: Clock, history: MetricHistory, *,
                 service: RunningService | None = None, secure: bool = False,
                 limiter: LoginLimiter | None = None) -> None:
        from router.console import actions, views  # The handlers import this module's types.

        self.home, self.clock, self.history, self.service, self.secure = home, clock, history, service, secure
        self.sessions = Sessions(clock)
        self.limiter = limiter or LoginLimiter(clock)
        self.templates = Environment(loader=PackageLoader("router.console", "templates"),
                                     autoescape=select_autoescape(default=True), trim_blocks=True,
                                     lstrip_blocks=True)
        self.templates.filters["dt"] = _when
        self.templates.filters["health"] = _health_label
        self._store: StateStore | None = None
        self._store_lock = threading.Lock()
        self._handlers: dict[str, Handler] = {**views.HANDLERS, **actions.HANDLERS}
        self._urls = Map([Rule(path, endpoint=name, methods=[method])
                          for name, (method, path) in {**views.ROUTES, **actions.ROUTES}.items()],
                         strict_slashes=False)

    def store(self) -> StateStore:
        """The home's state store, opened at first use (the service creates it when it starts)."""
        with self._store_lock:
            if self._store is None:
                self._store = StateStore.open_home(self.home, self.clock)
            return self._store

    def close(self) -> None:
        """Close the state store the console opened."""
        with self._store_lock:
            if self._store is not None:
                self._store.close()
                self._store = None

    def render(self, template: str, ctx: Context | None, status: int = 200, **values: Any) -> Response:
        """An HTML response from ``template`` with the session's CSRF token available as ``csrf``."""
        csrf = ctx.session.csrf if ctx is not None else ""
        partial = ctx is not None and ctx.request.headers.get("HX-Request") == "true"
        body = self.templates.get_template(template).render(csrf=csrf, partial=partial, **values)
        return Response(body, status=status, content_type="text/html; charset=utf-8")

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = Request(environ)
        try:
            response = self._dispatch(request)
        except HTTPException as exc:
            response = exc.get_response(environ)
        except RouterError as exc:  # A refused action (e.g. retrying a resolved entry): say why.
            response = Response(str(exc), status=409, content_type="text/plain; charset=utf-8")
        except Exception:
            log.exception("console: %s %s failed", request.method, request.path)
            response = Response("The console failed to answer; the service log has the details.", status=500,
                                content_type="text/plain; charset=utf-8")
        _harden(response)
        return response(environ, start_response)

    def _dispatch(self, request: Request) -> Response:
        path = request.path
        if path.startswith("/static/"):
            return _static(path.removeprefix("/static/"))
        if path == "/favicon.ico":
            return _redirect("/static/favicon.svg")
        if path == "/login":
            return self._login(request)
        session = self.sessions.get(request.cookies.get(SESSION_COOKIE))
        if session is None:
            return _unauthenticated(request)
        if request.method == "POST":
            token = request.form.get("csrf") or request.headers.get("X-CSRF-Token")
            if not csrf_ok(session, token):
                log.warning("console: %s %s refused: CSRF token missing or wrong (client %s)",
                            request.method, path, request.remote_addr)
                return Response("Refused: this form's security token is missing or out of date. Reload the "
                                "page and try again.", status=403, content_type="text/plain; charset=utf-8")
        if path == "/":
            return _redirect("/mailboxes")
        endpoint, args = self._urls.bind_to_environ(request.environ).match()
        return self._handlers[str(endpoint)](Context(self, request, session, dict(args)))

    def _login(self, request: Request) -> Response:
        if request.method == "POST":
            return self._login_post(request)
        if request.method != "GET":
            return Response("use GET or POST", status=405)
        return self._login_form(request)

    def _login_form(self, request: Request, error: str = "", status: int = 200) -> Response:
        kept = request.cookies.get(LOGIN_COOKIE, "")  # Reused: a 2nd tab (or favicon) must not void a form.
        nonce = kept if 24 <= len(kept) <= 64 and kept.replace("-", "").replace("_", "").isalnum() \
            else secrets.token_urlsafe(24)
        response = self.render("login.html", None, status, error=error, next=_safe_next(request),
                               login_token=self.sessions.login_token(nonce),
                               configured=console_password_hash(self.home) is not None)
        response.set_cookie(LOGIN_COOKIE, nonce, httponly=True, samesite="Strict", secure=self.secure,
                            path="/login")
        return response

    def _login_post(self, request: Request) -> Response:
        client = request.remote_addr or "unknown"
        if not self.sessions.login_token_ok(request.cookies.get(LOGIN_COOKIE), request.form.get("csrf")):
            log.warning("console: login from %s refused: the form's security token is missing or wrong",
                        client)
            return self._login_form(request, "The form expired. Enter the password again.", 403)
        wait = self.limiter.retry_after(client)
        if wait:
            log.warning("console: login from %s refused: too many failed logins; %d s to wait", client, wait)
            response = self._login_form(request, f"Too many failed logins. Try again in {wait} seconds.", 429)
            response.headers["Retry-After"] = str(wait)
            return response
        stored = console_password_hash(self.home)
        if stored is None or not verify_password(request.form.get("password", ""), stored):
            count = self.limiter.failed(client)
            log.warning("console: failed login from %s (%d in the last minutes)%s", client, count,
                        "" if stored else "; no console password is set")
            return self._login_form(request, "Wrong password." if stored else
                                    "No console password is set: run `email-router console password`.", 401)
        self.limiter.succeeded(client)
        session = self.sessions.create()
        log.info("console: admin signed in from %s", client)
        response = _redirect(_safe_next(request))
        response.set_cookie(SESSION_COOKIE, session.token, httponly=True, samesite="Strict",
                            secure=self.secure, path="/")
        response.delete_cookie(LOGIN_COOKIE, path="/login")
        return response


def _when(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if value is not None else "never"


def _health_label(value: str) -> str:
    return {"not_run": "Not Run", "success": "Success", "failure": "Failure"}.get(value, value)


def _unauthenticated(request: Request) -> Response:
    if request.path.startswith("/api/") or request.headers.get("HX-Request") == "true":
        return Response('{"error": "sign in at /login"}', status=401, content_type="application/json")
    target = request.full_path.rstrip("?")
    return _redirect("/login" + (f"?next={_quote(target)}" if request.method == "GET" else ""))


def _safe_next(request: Request) -> str:
    """Where to go after signing in: a path of this site only (never ``//host`` or a full URL)."""
    wanted = request.values.get("next", "/mailboxes")
    return wanted if wanted.startswith("/") and not wanted.startswith("//") and "\\" not in wanted \
        else "/mailboxes"


def _quote(path: str) -> str:
    from urllib.parse import quote

    return quote(path, safe="/")


def _redirect(location: str) -> Response:
    return Response("", status=303, headers={"Location": location})


def _static(name: str) -> Response:
    """A vendored file of ``router/console/static`` (no sub-directories, no other files)."""
    suffix = PurePosixPath(name).suffix
    if "/" in name or name.startswith(".") or suffix not in STATIC_TYPES:
        raise NotFound()
    resource = resources.files("router.console").joinpath("static", name)
    if not resource.is_file():
        raise NotFound()
    kind = STATIC_TYPES[suffix]
    response = Response(resource.read_bytes(),
                        content_type=kind if "svg" in kind else f"{kind}; charset=utf-8")
    response.headers["Cache-Control"] = "max-age=3600"
    return response


def _harden(response: Response) -> None:
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CSP)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "no-referrer")
    headers.setdefault("Cache-Control", "no-store")

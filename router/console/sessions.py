"""Console sessions, CSRF tokens and the failed-login limiter, all in memory.

A session is a random token in an HttpOnly, SameSite=Strict cookie; it carries its own CSRF token,
which every form and htmx request must send back. Sessions live in the running process only, so a
restart signs the admin out (nothing to steal from disk). A session ends after ``idle_seconds``
without a request, or at logout.

The login form itself has a CSRF token too: an HMAC of a random pre-login cookie under a per-process
secret, so a foreign page cannot post a login (login CSRF).

``LoginLimiter`` allows ``attempts`` failed logins per client address in ``window_seconds``; past
that, logins from that address are refused (HTTP 429) until the window has moved on, whatever the
password.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from collections import deque
from dataclasses import dataclass, field

from router.clock import Clock

SESSION_COOKIE = "er_session"
LOGIN_COOKIE = "er_login"
IDLE_SECONDS = 3600.0
MAX_CLIENTS = 10_000
"""Addresses with failed logins remembered before those whose window has passed are forgotten."""


@dataclass
class Session:
    """One signed-in admin: the cookie token, the CSRF token and when it was last used."""

    token: str
    csrf: str
    last_seen: float = field(default=0.0)


class Sessions:
    """The signed-in sessions of this process."""

    def __init__(self, clock: Clock, idle_seconds: float = IDLE_SECONDS) -> None:
        self._clock = clock
        self._idle = idle_seconds
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()
        self._login_secret = secrets.token_bytes(32)

    def create(self) -> Session:
        """Start a new session (after a successful login)."""
        now = self._now()
        session = Session(secrets.token_urlsafe(32), secrets.token_urlsafe(32), now)
        with self._lock:
            for token in [t for t, s in self._sessions.items() if now - s.last_seen > self._idle]:
                del self._sessions[token]
            self._sessions[session.token] = session
        return session

    def get(self, token: str | None) -> Session | None:
        """The live session of ``token`` (and mark it used), or None."""
        if not token:
            return None
        now = self._now()
        with self._lock:
            session = self._sessions.get(token)
            if session is None:
                return None
            if now - session.last_seen > self._idle:
                del self._sessions[token]
                return None
            session.last_seen = now
            return session

    def end(self, token: str | None) -> None:
        """Forget ``token``'s session (logout)."""
        with self._lock:
            self._sessions.pop(token or "", None)

    def login_token(self, nonce: str) -> str:
        """The CSRF token of the login form for the pre-login cookie ``nonce``."""
        return hmac.new(self._login_secret, nonce.encode("utf-8"), hashlib.sha256).hexdigest()

    def login_token_ok(self, nonce: str | None, token: str | None) -> bool:
        """True when ``token`` is the login form's token for ``nonce``."""
        return bool(nonce and token) and hmac.compare_digest(self.login_token(nonce or ""), token or "")

    def _now(self) -> float:
        return self._clock.now().timestamp()


def csrf_ok(session: Session, token: str | None) -> bool:
    """True when ``token`` is ``session``'s CSRF token (compared in constant time)."""
    return bool(token) and hmac.compare_digest(session.csrf, token or "")


class LoginLimiter:
    """At most ``attempts`` failed logins per client address within ``window_seconds``."""

    def __init__(self, clock: Clock, attempts: int = 5, window_seconds: float = 300.0) -> None:
        self._clock = clock
        self._attempts = attempts
        self._window = window_seconds
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def retry_after(self, client: str) -> int:
        """Seconds until ``client`` may try again; 0 when it may try now."""
        now = self._clock.now().timestamp()
        with self._lock:
            recent = self._recent(client, now)
            if len(recent) < self._attempts:
                return 0
            return max(1, int(recent[0] + self._window - now) + 1)

    def failed(self, client: str) -> int:
        """Record one failed login of ``client``; returns its failures within the window."""
        now = self._clock.now().timestamp()
        with self._lock:
            if len(self._failures) > MAX_CLIENTS:  # Forget addresses whose window has passed.
                for other in [c for c in self._failures if not self._recent(c, now)]:
                    del self._failures[other]
            recent = self._recent(client, now)
            recent.append(now)
            return len(recent)

    def succeeded(self, client: str) -> None:
        """Forget ``client``'s failures after a successful login."""
        with self._lock:
            self._failures.pop(client, None)

    def _recent(self, client: str, now: float) -> deque[float]:
        recent = self._failures.setdefault(client, deque())
        while recent and now - recent[0] > self._window:
            recent.popleft()
        return recent

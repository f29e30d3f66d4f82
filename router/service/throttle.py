"""Server back-off requests, remembered per scope, so one busy server delays every lane that uses it.

When Exchange answers ErrorServerBusy with a back-off, or the CRM answers 429 with Retry-After, the
whole server is overloaded, not just the mailbox that asked: every lane on that server must wait.
Scopes are strings such as ``ews:mail.contoso.com`` or ``crm:main`` (see ``LaneSpec``). Times are
readings of the injected clock's ``monotonic``.

Not thread-safe by itself: the scheduler only touches it while holding its own lock.
"""

from __future__ import annotations

from collections.abc import Iterable


class ThrottleBoard:
    """Until when each scope asked to be left alone."""

    def __init__(self) -> None:
        self._until: dict[str, float] = {}

    def block(self, scope: str, until: float) -> None:
        """Keep ``scope`` free of new runs until ``until`` (a longer earlier request still holds)."""
        self._until[scope] = max(until, self._until.get(scope, until))

    def blocked_until(self, scopes: Iterable[str], now: float) -> float | None:
        """The latest end of a back-off still running for any of ``scopes``, or None when all are free."""
        ends = [self._until[s] for s in scopes if self._until.get(s, now) > now]
        return max(ends) if ends else None

    def forget_expired(self, now: float) -> None:
        """Drop back-offs that have ended, so the board does not grow with every server ever seen."""
        self._until = {scope: until for scope, until in self._until.items() if until > now}

    def active(self, now: float) -> dict[str, float]:
        """Each scope still backing off, with the seconds left."""
        return {scope: until - now for scope, until in self._until.items() if until > now}

"""Delta links Graph answered "no change" to a moment ago, so a lane's sweep need not ask again.

The delta poller (``router.graph.delta_poller``) asks about every watched mailbox's saved link at
least once per its interval. When it has just been told a link has no change, a lane's sweep from that
same link would only ask the same question again: ``GraphMailbox.delta_page`` answers it from here,
without a request, until the poller's next question is due. Mail that arrives meanwhile is what that
next question finds (the lane is woken), so nothing waits longer than it would have.
"""

from __future__ import annotations

import threading

from router.clock import Clock


class QuietLinks:
    """Per mailbox, the last link answered "no change" and until when that answer stands."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._quiet: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def note(self, mailbox: str, link: str, seconds: float) -> None:
        """Graph just said ``link`` of ``mailbox`` has no change; trust it for ``seconds``."""
        with self._lock:
            self._quiet[mailbox.lower()] = (link, self._clock.monotonic() + seconds)

    def forget(self, mailbox: str) -> None:
        with self._lock:
            self._quiet.pop(mailbox.lower(), None)

    def quiet(self, mailbox: str, link: str) -> bool:
        """True while the last "no change" answer for exactly ``link`` stands."""
        with self._lock:
            known = self._quiet.get(mailbox.lower())
        return known is not None and known[0] == link and self._clock.monotonic() < known[1]

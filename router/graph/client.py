"""The thin Graph client: one authenticated, throttled, retried request at a time per call.

Every request names the mailbox it concerns, so the per-mailbox concurrency limit and Retry-After are
kept (router.graph.throttle). 429 / 503 / 504 are retried after Retry-After up to ``attempts`` times,
then raised as TransientTransportError with ``back_off``; a 401 fetches a new token once. Other failures
become the router's errors (router.graph.errors). Built on requests (measured against Microsoft's SDK in
scripts/bench: see router/bench/graph_client.py).
"""

from __future__ import annotations

from typing import Any

import requests

from router.clock import Clock
from router.graph.errors import connection_failed, retry_after, translate
from router.graph.quiet import QuietLinks
from router.graph.throttle import Throttle
from router.graph.tokens import TokenSource

RETRIED = {429, 503, 504}
"""Answers after which a request is sent again (after Retry-After)."""
RETRIED_UNSAFE = {429}
"""The same for a request that must not happen twice (a send): only 429 says Graph did not run it; a 503
or 504 may come after it did, so the caller must find out (Sent Items) before sending again."""
TIMEOUT = (10.0, 120.0)


class GraphClient:
    """Requests to one Graph root (``https://graph.microsoft.com/v1.0`` or the simulator's)."""

    def __init__(
        self,
        tokens: TokenSource,
        graph_url: str,
        session: requests.Session,
        clock: Clock,
        *,
        throttle: Throttle | None = None,
        attempts: int = 4,
        timeout: tuple[float, float] = TIMEOUT,
    ) -> None:
        self.graph_url = graph_url.rstrip("/")
        self._tokens = tokens
        self._session = session
        self._clock = clock
        self.throttle = throttle or Throttle(clock)
        self.quiet = QuietLinks(clock)
        """Delta links the delta poller was just told have no change (router.graph.quiet)."""
        self._attempts = attempts
        self._timeout = timeout

    def url(self, path: str) -> str:
        """An absolute URL for ``path`` (links Graph returned are used as they are)."""
        return path if path.startswith("https://") or path.startswith("http://") else self.graph_url + path

    def request(self, method: str, mailbox: str, path: str, *, once: bool = False, weight: int = 1,
                **kwargs: Any) -> requests.Response:
        """Send one request for ``mailbox``; return a 2xx response or raise the router's error.
        ``once``: the request has an effect that must not happen twice, so it is sent again only after
        answers that say it did not run (401, 429). ``weight``: how many of the mailbox's concurrent
        requests it counts as (a ``$batch`` whose steps run side by side)."""
        retried = RETRIED_UNSAFE if once else RETRIED
        renewed = False
        headers = dict(kwargs.pop("headers", None) or {})
        for attempt in range(1, self._attempts + 1):
            response = self._send(method, mailbox, path, headers, weight, kwargs)
            if response.status_code < 400:
                return response
            if response.status_code == 401 and not renewed:
                self._tokens.invalidate()
                renewed = True
                continue
            if response.status_code in retried and attempt < self._attempts:
                self.throttle.back_off(
                    mailbox if response.status_code == 429 else None, retry_after(response.headers)
                )
                continue
            raise translate(response, mailbox=mailbox)
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _send(
        self, method: str, mailbox: str, path: str, headers: dict[str, str], weight: int,
        kwargs: dict[str, Any],
    ) -> requests.Response:
        with self.throttle.slot(mailbox, weight):
            self.throttle.wait(mailbox)
            auth = {"Authorization": f"Bearer {self._tokens.token()}"}
            try:
                return self._session.request(
                    method, self.url(path), headers=headers | auth, timeout=self._timeout, **kwargs
                )
            except requests.RequestException as exc:
                raise connection_failed(exc, mailbox=mailbox) from None

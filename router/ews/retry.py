"""exchangelib's retry policy as the router needs it: never sleep, never retry, say why it failed.

exchangelib offers ``FaultTolerance`` (sleep and retry inside the library for up to an hour) and
``FailFast``. The router decides back-off itself, per mailbox and per server, so it uses a fail-fast
policy. Two details of the stock ``FailFast`` would lose information the router needs:

* a 503 or a throttling 500 with ``Retry-After`` is raised without that value; ``FaultTolerance``
  keeps it, and so does this policy (as ``ErrorServerBusy.back_off``);
* an HTTP status exchangelib has no rule for (404, 403, 502, ...) becomes a bare
  ``MalformedResponseError`` carrying the status only in its text; this policy raises
  ``HttpStatusError`` with the status as a number, so the error mapping can tell 5xx from 4xx.
"""

from __future__ import annotations

from typing import Any

from exchangelib.errors import ErrorInternalServerTransientError, ErrorServerBusy, MalformedResponseError
from exchangelib.protocol import FailFast
from exchangelib.util import _get_retry_after


class HttpStatusError(MalformedResponseError):  # type: ignore[misc]
    """An EWS or Autodiscover response with an HTTP status exchangelib has no rule for."""

    def __init__(self, status_code: int, url: str, retry_after: int | None) -> None:
        super().__init__(f"HTTP {status_code} from {url}")
        self.status_code = status_code
        self.url = url
        self.retry_after = retry_after


class RouterRetryPolicy(FailFast):  # type: ignore[misc]
    """Fail fast, keeping ``Retry-After`` and the HTTP status of every failure."""

    def raise_response_errors(self, response: Any) -> None:
        try:
            super().raise_response_errors(response)
        except (ErrorInternalServerTransientError, ErrorServerBusy) as exc:
            retry_after = _get_retry_after(response)
            if retry_after and not getattr(exc, "back_off", None):
                raise ErrorServerBusy(str(exc), back_off=retry_after) from exc
            raise
        except MalformedResponseError as exc:
            if type(exc) is not MalformedResponseError:
                raise
            raise HttpStatusError(int(response.status_code), str(response.url),
                                  _get_retry_after(response)) from exc

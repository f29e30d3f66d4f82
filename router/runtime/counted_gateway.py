"""A CRM gateway that counts the operations asked of it, per deployment (``crm_requests_total``).

What a CRM costs the router at idle is the number of requests it is asked, not their CPU: against a
Dynamics server each one is an HTTP round trip. ``Resources`` wraps every gateway it opens, so the
metric (and `scripts/bench`) shows how many requests a minute the router makes of each deployment.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from router.crm.gateway import CrmGateway
from router.runtime.metrics import Metrics

UNCOUNTED = frozenset({"close"})


class CountedGateway:
    """Delegates to ``inner``; every call of one of its operations is counted first."""

    def __init__(self, inner: CrmGateway, deployment: str, metrics: Metrics) -> None:
        self._inner = inner
        self._deployment = deployment
        self._metrics = metrics

    def __getattr__(self, name: str) -> Any:
        found = getattr(self._inner, name)
        if name.startswith("_") or name in UNCOUNTED or not callable(found):
            return found
        return self._counted(name, found)

    def _counted(self, name: str, operation: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            self._metrics.crm_request(self._deployment, name)
            return operation(*args, **kwargs)

        return call


def counted(inner: CrmGateway, deployment: str, metrics: Metrics) -> CrmGateway:
    """``inner``, counting its operations in ``metrics`` under ``deployment``."""
    return cast(CrmGateway, CountedGateway(inner, deployment, metrics))

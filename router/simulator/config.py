"""The simulator's server settings (not the organisation's content, which a seed file provides)."""

from __future__ import annotations

from dataclasses import dataclass

from router.simulator.versions import EXCHANGE_SE, ServerBuild


@dataclass
class ServerConfig:
    """How the simulated Exchange server behaves on the wire."""

    build: ServerBuild = EXCHANGE_SE
    hostname: str = "ews.sim.local"
    auth_schemes: tuple[str, ...] = ("ntlm", "basic", "bearer")
    max_request_bytes: int = 64 * 1024 * 1024
    max_message_bytes: int = 35 * 1024 * 1024
    max_response_bytes: int | None = None
    """A reverse proxy's limit on one EWS response (None: no proxy): a larger response is answered with
    502 Bad Gateway, as such a proxy in front of Exchange answers. Tests use it to make every fetch
    that includes one item fail."""
    streaming_minute: float = 60.0
    """Seconds in one GetStreamingEvents ``ConnectionTimeout`` minute (tests shorten it)."""
    heartbeat_seconds: float = 30.0
    max_streaming_connections: int | None = 10
    """Open GetStreamingEvents connections one account may hold; the next fails with
    ErrorExceededConnectionCount, as Exchange's throttling policy does (Exchange's default is 10; None
    sets no limit). A client must share connections among its subscriptions: the router groups up to
    ``max_subscriptions_per_stream`` mailboxes on one connection."""
    max_subscriptions_per_stream: int = 200
    """SubscriptionIds one GetStreamingEvents request may carry (Exchange's limit for a group is 200);
    more fail with ErrorInvalidArgument."""
    control_token: str | None = None
    """When set, the control API requires ``Authorization: Bearer <token>``."""

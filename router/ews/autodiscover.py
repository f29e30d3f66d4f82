"""Autodiscover: find a mailbox's EWS URL once, remember it, and look again when it stops working.

Two ways to discover:

* with an explicit Autodiscover endpoint (the profile names ``.../autodiscover/autodiscover.svc``),
  the router asks that endpoint with SOAP ``GetUserSettings`` through exchangelib's
  ``AutodiscoverProtocol``, following address and URL redirects itself;
* without one, exchangelib's ``Autodiscovery`` runs the whole published algorithm (the domain, the
  ``autodiscover.`` host, the HTTP redirect, DNS SRV), looking names up with the injected
  ``Resolver`` (the system's DNS unless the account factory is given another).

Either way the result is kept in an ``AutodiscoverCache`` for ``ttl`` and forgotten at once when the
account factory is told that the endpoint failed, so the next connection discovers again.
"""

from __future__ import annotations

import threading
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from typing import Protocol as Interface

from exchangelib.autodiscover.discovery import Autodiscovery
from exchangelib.autodiscover.protocol import AutodiscoverProtocol
from exchangelib.configuration import Configuration
from exchangelib.errors import AutoDiscoverCircularRedirect, AutoDiscoverFailed
from exchangelib.protocol import Protocol

from router.clock import Clock
from router.ews.retry import RouterRetryPolicy

MAX_REDIRECTS = 10
"""Address and URL redirects followed before discovery gives up, as the Autodiscover protocol says."""

DEFAULT_TTL = timedelta(hours=24)
"""How long a discovered endpoint is trusted without asking again (while it keeps working)."""


@dataclass(frozen=True)
class Discovered:
    """What Autodiscover said about a mailbox: where its EWS lives and which version it speaks."""

    ews_url: str
    primary_address: str
    version: Any
    """An ``exchangelib.version.Version`` from ``EwsSupportedSchemas``, or None if the server gave none."""
    at: datetime


class AutodiscoverCache:
    """Discovered endpoints per mailbox address, each trusted for ``ttl``."""

    def __init__(self, clock: Clock, ttl: timedelta = DEFAULT_TTL) -> None:
        self._clock = clock
        self._ttl = ttl
        self._lock = threading.Lock()
        self._entries: dict[str, Discovered] = {}

    def get(self, mailbox: str) -> Discovered | None:
        """The remembered endpoint of a mailbox, or None if there is none or it is too old."""
        with self._lock:
            entry = self._entries.get(mailbox.lower())
        if entry is None or self._clock.now() - entry.at >= self._ttl:
            return None
        return entry

    def put(self, mailbox: str, discovered: Discovered) -> None:
        """Remember a discovered endpoint."""
        with self._lock:
            self._entries[mailbox.lower()] = discovered

    def forget(self, mailbox: str) -> bool:
        """Forget a mailbox's endpoint (it failed); returns whether one was remembered."""
        with self._lock:
            return self._entries.pop(mailbox.lower(), None) is not None


def discover_at(url: str, mailbox: str, *, credentials: Any, auth_type: str | None,
                timeout: tuple[float, float], clock: Clock) -> Discovered:
    """Ask one Autodiscover endpoint for a mailbox's settings, following its redirects."""
    seen_addresses: set[str] = set()
    seen_urls: set[str] = set()
    address = mailbox
    for _ in range(MAX_REDIRECTS):
        seen_addresses.add(address.lower())
        seen_urls.add(url.lower())
        response = _get_user_settings(url, address, credentials, auth_type, timeout)
        response.raise_errors()
        if response.redirect_address:
            address = response.redirect_address
            if address.lower() in seen_addresses:
                raise AutoDiscoverCircularRedirect(f"Autodiscover redirected {mailbox} back to {address}")
            continue
        if response.redirect_url:
            url = response.redirect_url
            if url.lower() in seen_urls:
                raise AutoDiscoverCircularRedirect(f"Autodiscover redirected {mailbox} back to {url}")
            continue
        if not response.ews_url:
            raise AutoDiscoverFailed(f"Autodiscover at {url} gave no EWS URL for {address}")
        return Discovered(response.ews_url, response.autodiscover_smtp_address or address, response.version,
                          clock.now())
    raise AutoDiscoverFailed(f"Autodiscover for {mailbox} was redirected more than {MAX_REDIRECTS} times")


def _get_user_settings(url: str, address: str, credentials: Any, auth_type: str | None,
                       timeout: tuple[float, float]) -> Any:
    protocol = AutodiscoverProtocol(config=Configuration(
        service_endpoint=url, credentials=credentials, auth_type=auth_type, retry_policy=RouterRetryPolicy()))
    protocol.TIMEOUT = timeout
    try:
        return protocol.get_user_settings(user=address)
    finally:
        protocol.close()


class Resolver(Interface):
    """What the DNS path looks names up with: ``dns.resolver.Resolver`` in production, a fake in tests."""

    def resolve(self, qname: str, rdtype: str, *, lifetime: float | None = None) -> Any:
        """Answer a query (A for host checks, SRV for ``_autodiscover._tcp.<domain>``) or raise
        dnspython's NXDOMAIN / NoAnswer."""
        ...


def discover_by_algorithm(mailbox: str, *, credentials: Any, clock: Clock,
                          resolver: Resolver | None = None) -> Discovered:
    """Run exchangelib's whole Autodiscover algorithm for a mailbox, looking names up with ``resolver``
    (default: the system's DNS through dnspython)."""
    discovery = Autodiscovery(email=mailbox, credentials=credentials)
    if resolver is not None:
        discovery.resolver = resolver  # exchangelib's cached property: an instance attribute replaces it
    response, protocol = discovery.discover()
    # exchangelib caches the protocol it built; the account factory builds its own with the router's
    # retry policy and settings, so this one must not linger in the cache and be picked up instead.
    _evict(protocol)
    return Discovered(protocol.service_endpoint, response.autodiscover_smtp_address or mailbox,
                      response.version, clock.now())


def _evict(protocol: Any) -> None:
    """Close a cached exchangelib protocol and drop it from exchangelib's protocol cache."""
    protocol.close()
    # Another caller may have evicted it already; then nothing is left to drop.
    with suppress(KeyError):
        del Protocol[protocol.config]

"""TLS verification per server host, for a process that talks to several Exchange organisations.

exchangelib chooses its HTTP adapter per class (``BaseProtocol.HTTP_ADAPTER_CLS``), not per account,
so one process cannot give two profiles two CA bundles through exchangelib itself. Instead the router
installs ``HostTlsAdapter``, which picks the verification for each request from the host and port of
its URL, looked up in the process's ``TlsRegistry``. The registry is process-wide for the same
reason the adapter class is: exchangelib builds adapters without telling them which account asks.

Hosts nobody registered keep requests' default (verify against the system store, honouring
``REQUESTS_CA_BUNDLE``). The adapter is a ``BoundedAdapter``: every request has a total deadline, and
each answer a size cap per EWS operation (``TlsPolicy.max_item_response_bytes`` for the operations
that carry messages, ``max_response_bytes`` for the others).
"""

from __future__ import annotations

import logging
import re
import threading
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from exchangelib.protocol import BaseProtocol
from requests import PreparedRequest, Response, Session
from urllib3.exceptions import InsecureRequestWarning

from router.bounded_http import BoundedAdapter
from router.http_environment import environment_once

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TlsPolicy:
    """How to verify one server: against a CA bundle file, the system store, or (never wise) not at all."""

    verify: bool = True
    ca_bundle: Path | None = None
    max_response_bytes: int = 16 * 1024 * 1024
    max_item_response_bytes: int = 128 * 1024 * 1024

    def limit_for(self, operation: str | None) -> int:
        """The answer size cap of one EWS operation (those that carry whole messages get the larger one)."""
        return self.max_item_response_bytes if operation in ITEM_OPERATIONS else self.max_response_bytes

    @property
    def requests_verify(self) -> bool | str:
        """The value of requests' ``verify`` argument for this policy."""
        if not self.verify:
            return False
        return str(self.ca_bundle) if self.ca_bundle else True

    def describe(self) -> str:
        """A phrase for logs and errors."""
        if not self.verify:
            return "no certificate verification"
        return f"CA bundle {self.ca_bundle}" if self.ca_bundle else "the system CA store"


def host_key(url: str) -> str:
    """``host:port`` of a URL, with the scheme's default port filled in; the key of the registry."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{(parts.hostname or '').lower()}:{port}"


class TlsRegistry:
    """Which TLS policy applies to which ``host:port``, and which owners (account factories) asked for it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[TlsPolicy, set[str]]] = {}

    def register(self, url: str, policy: TlsPolicy, owner: str) -> None:
        """Use ``policy`` for the host of ``url``; a different earlier policy is replaced, with a warning."""
        key = host_key(url)
        with self._lock:
            current = self._entries.get(key)
            owners = set() if current is None else current[1]
            if current is not None and current[0] != policy:
                log.warning("TLS verification of %s changes from %s to %s", key, current[0].describe(),
                            policy.describe())
            self._entries[key] = (policy, owners | {owner})
        if not policy.verify:
            log.warning("TLS certificates of %s are NOT verified (tls_verify is off for it)", key)
            # The admin was just warned; urllib3's warning on every unverified request would only
            # repeat it. Unverified requests go only to hosts registered like this one.
            warnings.filterwarnings("ignore", category=InsecureRequestWarning)

    def release(self, owner: str) -> None:
        """Forget the hosts only ``owner`` needed (its factory closed)."""
        with self._lock:
            for key, (_policy, owners) in list(self._entries.items()):
                owners.discard(owner)
                if not owners:
                    del self._entries[key]

    def lookup(self, url: str) -> TlsPolicy | None:
        """The policy registered for the host of ``url``, or None to keep requests' default."""
        with self._lock:
            entry = self._entries.get(host_key(url))
        return None if entry is None else entry[0]


PROCESS_TLS = TlsRegistry()
"""The registry the installed adapter consults (process-wide, like exchangelib's adapter class)."""


ITEM_OPERATIONS = frozenset({"GetItem", "GetAttachment", "ExportItems", "GetStreamingEvents"})
"""EWS operations whose answers carry whole messages (MIME, attachments)."""

_OPERATION = re.compile(rb"<s:Body><m:([A-Za-z]+)")


def ews_operation(body: bytes | str | None) -> str | None:
    """The EWS operation a SOAP request body asks for (exchangelib writes ``<s:Body><m:Operation``)."""
    if not body:
        return None
    head = (body.encode() if isinstance(body, str) else body)[:16384]
    found = _OPERATION.search(head)
    return found.group(1).decode() if found else None


class HostTlsAdapter(BoundedAdapter):
    """An HTTP adapter that verifies each request's server as its host's ``TlsPolicy`` says."""

    registry: TlsRegistry = PROCESS_TLS

    def limit_for(self, request: PreparedRequest) -> int:
        policy = self.registry.lookup(request.url or "") or TlsPolicy()
        body = request.body if isinstance(request.body, bytes | str) else None
        return policy.limit_for(ews_operation(body))

    def send(self, request: PreparedRequest, stream: bool = False,
             timeout: float | tuple[float, float] | tuple[float, None] | None = None,
             verify: bool | str = True, cert: bytes | str | tuple[bytes | str, bytes | str] | None = None,
             proxies: Mapping[str, str] | None = None) -> Response:
        policy = self.registry.lookup(request.url or "")
        chosen = verify if policy is None else policy.requests_verify
        return super().send(request, stream=stream, timeout=timeout, verify=chosen, cert=cert,
                            proxies=proxies)


def install_tls_adapter() -> None:
    """Make every exchangelib protocol (EWS, Autodiscover, OAuth token) use ``HostTlsAdapter``, and its
    sessions read the environment once (``environment_once``)."""
    BaseProtocol.HTTP_ADAPTER_CLS = HostTlsAdapter
    if BaseProtocol.__dict__.get("raw_session") is not _RAW_SESSION:
        BaseProtocol.raw_session = _RAW_SESSION


_STOCK_RAW_SESSION = BaseProtocol.__dict__["raw_session"].__func__


def _raw_session(cls: type[BaseProtocol], prefix: str, oauth2_client: Any = None,
                 oauth2_session_params: Any = None, oauth2_token_endpoint: Any = None) -> Session:
    """exchangelib's ``BaseProtocol.raw_session``; a session without OAuth reads the environment once.
    An OAuth session also talks to its token endpoint, another host: it keeps requests' own reading."""
    session: Session = _STOCK_RAW_SESSION(cls, prefix, oauth2_client, oauth2_session_params,
                                          oauth2_token_endpoint)
    return session if oauth2_client else environment_once(session, prefix)


_RAW_SESSION = classmethod(_raw_session)

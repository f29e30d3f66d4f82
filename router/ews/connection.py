"""The account factory: a ConnectionSpec in, a ready exchangelib ``Account`` out.

What the factory settles so that no other module has to:

* credentials per auth kind (Basic, NTLM, OAuth client credentials against any token endpoint),
  with exchangelib's auth-type probe skipped because the kind is known;
* the EWS endpoint: the profile's URL, or Autodiscover through a cache that is refreshed when the
  endpoint fails (``endpoint_failed``);
* TLS verification per server host (``router.ews.tls``), so profiles with different CAs coexist;
* exchangelib's retry policy: fail fast, so the router, not exchangelib, decides every back-off;
* the timeout, the connection pool size and the server version hint.

Creating an account sends nothing; the first folder access connects. exchangelib shares one
connection pool per (endpoint, credentials) between accounts, which is how a profile's
``max_connections`` caps all of its mailboxes together when they log on with one service account.
OAuth credentials name their mailbox (app-only tokens must impersonate it), so there the pool and
the token are per mailbox. ``close()`` closes the pools this factory opened.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass
from typing import Any

from cached_property import threaded_cached_property  # type: ignore[import-untyped]
from exchangelib import UTC as EWS_UTC
from exchangelib.account import Account
from exchangelib.configuration import Configuration
from exchangelib.credentials import DELEGATE, IMPERSONATION
from exchangelib.protocol import Protocol
from exchangelib.version import Version

from router.clock import Clock
from router.errors import ConfigError, TransportError
from router.ews.autodiscover import (
    AutodiscoverCache,
    Discovered,
    Resolver,
    discover_at,
    discover_by_algorithm,
)
from router.ews.credentials import EXCHANGELIB_AUTH, credentials_for
from router.ews.errors import ews_errors
from router.ews.retry import RouterRetryPolicy
from router.ews.spec import AccessType, ConnectionSpec, exchange_build
from router.ews.tls import PROCESS_TLS, TlsPolicy, TlsRegistry, host_key, install_tls_adapter

ENDPOINT_FAILURE_CODES = frozenset({
    "ConnectionError", "Timeout", "ErrorTimeoutExpired", "TlsError", "RedirectError", "RelativeRedirect",
    "ErrorMailboxMoveInProgress", "ErrorWrongServerVersion", "ErrorWrongServerVersionDelegate", "InvalidURL",
})
"""Error codes that say "this endpoint is wrong or gone" rather than "this request failed"; HTTP
statuses other than 401, 403, 429 and 503 count too."""


@dataclass(frozen=True)
class Endpoint:
    """Where an account's EWS is, what its primary address is there, and the version to speak."""

    ews_url: str
    address: str
    version: Any
    autodiscovered: bool


class AccountFactory:
    """Builds exchangelib accounts from connection specs, one factory per published configuration."""

    def __init__(self, clock: Clock, *, autodiscover_cache: AutodiscoverCache | None = None,
                 tls: TlsRegistry = PROCESS_TLS, resolver: Resolver | None = None) -> None:
        self._clock = clock
        self._resolver = resolver
        self._cache = autodiscover_cache or AutodiscoverCache(clock)
        self._tls = tls
        self._owner = f"account-factory-{uuid.uuid4().hex}"
        self._hosts: dict[str, tuple[TlsPolicy, str]] = {}
        self._protocols: dict[int, Any] = {}
        self._lock = threading.Lock()
        install_tls_adapter()

    def account(self, spec: ConnectionSpec) -> Account:
        """Return an account for the spec's mailbox; errors are router errors naming the mailbox."""
        with ews_errors(mailbox=spec.mailbox):
            credentials = credentials_for(spec)
            for url in _tls_urls(spec):
                self._register_tls(spec, url)
            endpoint = self._endpoint(spec, credentials)
            return self._build(spec, credentials, endpoint)

    def endpoint_failed(self, spec: ConnectionSpec, error: TransportError | None = None) -> bool:
        """Report that talking to the spec's endpoint failed with ``error``.

        When the endpoint came from Autodiscover and the error says the endpoint itself is wrong or
        gone (or no error is given), the cached discovery is forgotten and True is returned: build
        a new account, which discovers again.
        """
        if not spec.autodiscover or (error is not None and not is_endpoint_failure(error)):
            return False
        return self._cache.forget(spec.mailbox)

    def close(self) -> None:
        """Close every connection pool this factory opened and forget its TLS registrations."""
        with self._lock:
            protocols = list(self._protocols.values())
            self._protocols.clear()
        for protocol in protocols:
            protocol.close()
            _forget_protocol(protocol)
        self._tls.release(self._owner)

    def __enter__(self) -> AccountFactory:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _endpoint(self, spec: ConnectionSpec, credentials: Any) -> Endpoint:
        if spec.ews_url:
            return Endpoint(spec.ews_url, spec.mailbox, _version_hint(spec), autodiscovered=False)
        found = self._cache.get(spec.mailbox)
        if found is None:
            found = self._discover(spec, credentials)
            self._cache.put(spec.mailbox, found)
        self._register_tls(spec, found.ews_url)
        return Endpoint(found.ews_url, found.primary_address, _version_hint(spec) or found.version,
                        autodiscovered=True)

    def _discover(self, spec: ConnectionSpec, credentials: Any) -> Discovered:
        if spec.autodiscover_url:
            return discover_at(spec.autodiscover_url, spec.mailbox, credentials=credentials,
                               auth_type=EXCHANGELIB_AUTH[spec.auth], timeout=spec.timeouts,
                               clock=self._clock)
        return discover_by_algorithm(spec.mailbox, credentials=credentials, clock=self._clock,
                                     resolver=self._resolver)

    def _build(self, spec: ConnectionSpec, credentials: Any, endpoint: Endpoint) -> Account:
        config = Configuration(
            service_endpoint=endpoint.ews_url, credentials=credentials, auth_type=EXCHANGELIB_AUTH[spec.auth],
            version=endpoint.version, retry_policy=RouterRetryPolicy(), max_connections=spec.max_connections)
        access = IMPERSONATION if spec.access_type is AccessType.IMPERSONATION else DELEGATE
        account = RouterAccount(primary_smtp_address=endpoint.address, access_type=access, autodiscover=False,
                          config=config, default_timezone=EWS_UTC)
        # The timeout is per protocol instance: exchangelib passes ``protocol.TIMEOUT`` to requests for
        # each request, so a (connect, read) pair works. Accounts sharing a protocol (same endpoint and
        # credentials) share it too; the last spec built wins.
        account.protocol.TIMEOUT = spec.timeouts
        with self._lock:
            self._protocols[id(account.protocol)] = account.protocol
        return account

    def _register_tls(self, spec: ConnectionSpec, url: str) -> None:
        policy = TlsPolicy(verify=spec.tls_verify, ca_bundle=spec.ca_bundle,
                           max_response_bytes=spec.max_response_bytes,
                           max_item_response_bytes=spec.max_item_response_bytes)
        key = host_key(url)
        with self._lock:
            known = self._hosts.get(key)
            if known is not None and known[0] != policy:
                raise ConfigError(
                    f"mailboxes {known[1]} and {spec.mailbox} verify the server {key} differently "
                    f"({known[0].describe()} and {policy.describe()})",
                    hint="profiles that reach the same server must use the same CA bundle and tls_verify",
                    mailbox=spec.mailbox)
            self._hosts[key] = (policy, spec.mailbox)
        self._tls.register(url, policy, self._owner)


class _AccountCachedProperty:
    """exchangelib's cached folder property, locked per account instead of per class.

    ``threaded_cached_property`` keeps ONE lock per property for every ``Account`` in the process and
    holds it while the first lookup talks to the server: one slow mailbox would stall every other
    mailbox's first ``root``/``inbox`` lookup. Here each account has its own lock.
    """

    def __init__(self, func: Any) -> None:
        self.func = func
        self.name = func.__name__
        self.__doc__ = func.__doc__

    def __get__(self, obj: Any, cls: type | None = None) -> Any:
        if obj is None:
            return self
        values = obj.__dict__
        if self.name in values:
            return values[self.name]
        with obj.folder_lock:
            if self.name not in values:
                values[self.name] = self.func(obj)
            return values[self.name]


class RouterAccount(Account):  # type: ignore[misc]
    """An exchangelib ``Account`` whose cached folder lookups lock only this account."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.folder_lock = threading.RLock()
        super().__init__(*args, **kwargs)


for _name, _value in list(vars(Account).items()):
    if isinstance(_value, threaded_cached_property):
        setattr(RouterAccount, _name, _AccountCachedProperty(_value.func))


def is_endpoint_failure(error: TransportError) -> bool:
    """True when ``error`` says the endpoint is wrong or unreachable, not that one request failed."""
    code = error.code or ""
    if code.startswith("HTTP"):
        return code not in ("HTTP401", "HTTP403", "HTTP429", "HTTP503")
    return code in ENDPOINT_FAILURE_CODES


def _tls_urls(spec: ConnectionSpec) -> list[str]:
    """Every URL the spec may connect to before its EWS endpoint is known."""
    urls = [u for u in (spec.ews_url, spec.autodiscover_url, spec.oauth_token_endpoint) if u]
    if spec.autodiscover and not spec.autodiscover_url:
        urls += [f"https://{spec.domain}/", f"https://autodiscover.{spec.domain}/"]
    return urls


def _version_hint(spec: ConnectionSpec) -> Any:
    if not spec.server_version:
        return None
    return Version(build=exchange_build(spec.server_version))


def _forget_protocol(protocol: Any) -> None:
    """Drop a protocol from exchangelib's process-wide protocol cache, if it is still there."""
    try:
        del Protocol[protocol.config]
    except KeyError:
        return

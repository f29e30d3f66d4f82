"""The thin layer over exchangelib: accounts from connection specs, errors mapped, parsing sped up.

* ``ConnectionSpec`` (``spec``): one mailbox's connection settings, checked when built.
* ``AccountFactory`` (``connection``): specs to exchangelib accounts, with the Autodiscover cache,
  TLS per host, OAuth against any token endpoint, and a fail-fast retry policy.
* ``translate`` / ``ews_errors`` (``errors``): exchangelib, requests and OAuth exceptions to
  ``router.errors``.
* ``perf.install()``: the tested override that stops exchangelib feeding lxml one byte at a time.
"""

from router.ews.autodiscover import AutodiscoverCache, Discovered, Resolver
from router.ews.connection import AccountFactory, is_endpoint_failure
from router.ews.credentials import RouterOAuth2Credentials
from router.ews.errors import TRANSPORT_EXCEPTIONS, ews_errors, translate
from router.ews.retry import HttpStatusError, RouterRetryPolicy
from router.ews.spec import AccessType, AuthKind, ConnectionSpec
from router.ews.tls import PROCESS_TLS, TlsPolicy, TlsRegistry

__all__ = [
    "PROCESS_TLS", "TRANSPORT_EXCEPTIONS", "AccessType", "AccountFactory", "AuthKind", "AutodiscoverCache",
    "ConnectionSpec", "Discovered", "HttpStatusError", "Resolver", "RouterOAuth2Credentials",
    "RouterRetryPolicy",
    "TlsPolicy", "TlsRegistry", "ews_errors", "is_endpoint_failure", "translate",
]

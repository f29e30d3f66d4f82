"""How `email-router run` mounts the console on its status address, and when it may not.

On a loopback address the console is served over plain HTTP (only this host reaches it). On any other
address it is served only with a TLS certificate (``--tls-cert`` / ``--tls-key``), and then the whole
status address speaks HTTPS; without one, ``/metrics`` and the probes are served as before and the
console is left off, with a warning, so a password never crosses the network in clear text.
"""

from __future__ import annotations

import ipaddress
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from router.clock import Clock
from router.console.app import Console, RunningService
from router.console.history import MetricHistory
from router.errors import ConfigError
from router.home import Home
from router.runtime.metrics import Metrics


@dataclass(frozen=True)
class ConsoleMount:
    """What the status server gets: the console (or None, with ``note`` saying why) and the TLS context."""

    console: Console | None
    ssl_context: ssl.SSLContext | None
    note: str


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and ``localhost``."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def tls_context(cert: Path, key: Path | None) -> ssl.SSLContext:
    """A server TLS context (TLS 1.2 or newer) from PEM files; a ConfigError naming the file otherwise."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"the console's TLS certificate {cert} (key {key or cert}) cannot be used: {exc}",
                          hint="give a PEM certificate chain with --tls-cert and its unencrypted PEM "
                          "private key with --tls-key") from exc
    return context


@contextmanager
def console_mount(home: Home, clock: Clock, metrics: Metrics, service: RunningService | None, *,
                  host: str, tls_cert: Path | None = None,
                  tls_key: Path | None = None) -> Iterator[ConsoleMount]:
    """The console for the status server of ``run`` (its chart sampler runs while inside)."""
    context = tls_context(tls_cert, tls_key) if tls_cert is not None else None
    if context is None and not is_loopback(host):
        yield ConsoleMount(None, None, f"the console is not served on {host} without TLS: give --tls-cert "
                           "and --tls-key (or bind the status address to 127.0.0.1)")
        return
    history = MetricHistory(metrics, clock)
    console = Console(home, clock, history, service=service, secure=context is not None)
    history.start()
    try:
        yield ConsoleMount(console, context, "")
    finally:
        history.stop()
        console.close()

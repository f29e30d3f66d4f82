"""A logging filter that scrubs secrets from every record before any handler writes it.

Two nets: the exact values of known secrets (registered with ``add``, e.g. every credential the
service decrypts), and patterns that look like secrets whatever their value (``Authorization:``
headers, ``password=...``, ``client_secret=...``, bearer tokens). Install it on the root logger and its
handlers with ``install``; a filter on a handler sees records propagated from every child logger.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterable

from pydantic import SecretStr

MASK = "***"
MIN_SECRET_LENGTH = 4
"""Shorter values are not scrubbed by value: masking every "abc" would garble the logs. The patterns
still catch them where they appear as a password or a header."""

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(?i)(authorization[\"']?\s*[:=]\s*[\"']?)((?:basic|bearer|ntlm|negotiate)\s+)?[^\s\"',;]+"),
     rf"\1\2{MASK}"),
    (re.compile(r"(?i)(\bbearer\s+)[A-Za-z0-9._~+/=-]{8,}"), rf"\1{MASK}"),
    (re.compile(r"(?i)(\b(?:password|passwd|pwd|client_secret|secret|access_token|refresh_token|"
                r"id_token|api_key|apikey)[\"']?\s*[:=]\s*[\"']?)[^\s\"'&,;}]+"), rf"\1{MASK}"),
)


class SecretRedactor(logging.Filter):
    """Scrubs registered secret values and secret-looking patterns from log records (thread-safe)."""

    def __init__(self, secrets: Iterable[str | SecretStr] = ()) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._secrets: set[str] = set()
        self.add(*secrets)

    def add(self, *secrets: str | SecretStr) -> None:
        """Register secret values to scrub from now on."""
        with self._lock:
            for secret in secrets:
                value = secret.get_secret_value() if isinstance(secret, SecretStr) else secret
                if len(value) >= MIN_SECRET_LENGTH:
                    self._secrets.add(value)

    def scrub(self, text: str) -> str:
        """Return ``text`` with every known secret and secret-looking pattern masked."""
        with self._lock:
            known = sorted(self._secrets, key=len, reverse=True)
        for secret in known:
            text = text.replace(secret, MASK)
        for pattern, replacement in _PATTERNS:
            text = pattern.sub(replacement, text)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record in place with its message, traceback and stack scrubbed; never drop it."""
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            message = str(record.msg)
        record.msg, record.args = self.scrub(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.scrub(record.exc_text)
        if record.stack_info:
            record.stack_info = self.scrub(record.stack_info)
        return True

    def install(self, logger: logging.Logger | None = None) -> Callable[[], None]:
        """Attach to ``logger`` (default: root) and each of its handlers; return a function that detaches.

        Install after the handlers are configured: a handler added later does not get the filter.
        """
        target = logger or logging.getLogger()
        holders: list[logging.Logger | logging.Handler] = [target, *target.handlers]
        for holder in holders:
            holder.addFilter(self)

        def uninstall() -> None:
            for holder in holders:
                holder.removeFilter(self)

        return uninstall

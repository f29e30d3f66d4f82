"""The service's logging: legacy LogLevel and LogFile, structured lines, and no secret ever written.

LogLevel keeps the legacy E-mail Router's meaning (``Microsoft.Crm.Tools.EmailAgent.xml``):

====  ===========================================  ==========================
0     no logging (only failures that stop the       ``logging.CRITICAL``
      service are still written)
1     errors only (the legacy and default level)    ``logging.ERROR``
2     detailed information at the mailbox level     ``logging.INFO``
3     very detailed information, message level      ``logging.DEBUG``
====  ===========================================  ==========================

LogFile is the file written (relative paths are inside the home); without it the service writes
``logs/email-router.log`` in the home. Files rotate at ``max_bytes`` keeping ``backups`` old ones,
and are created readable by their owner only. Lines can also go to a stream (stderr under systemd,
which puts them in the journal).

Each line is structured, either logfmt (``ts=... level=ERROR logger=... thread=lane-worker-3
mailbox=a@contoso.com lane=a@contoso.com/incoming msg="..."``) or one JSON object per line. The
``mailbox`` and ``lane`` fields come from the record's ``extra`` or, inside lane work, from the lane
the thread runs (``logcontext``).

A ``SecretRedactor`` holding every secret of the published configuration filters every handler
before anything is formatted; ``add_secrets`` registers the secrets of a newly loaded version before
the service logs anything about it. Libraries that log whole requests (exchangelib, urllib3, NTLM) are
held at WARNING or above whatever the LogLevel, since their debug output carries message bodies.
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import os
from collections.abc import Iterable
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, TextIO

from router.config.settings import SystemSettings
from router.errors import ConfigError
from router.home import Home, create_private
from router.service.logcontext import current_lane
from router.vault.redact import SecretRedactor

LOG_FILE_NAME = "email-router.log"
MAX_BYTES = 10 * 1024 * 1024
BACKUPS = 5
FOREIGN_LOGGERS = ("exchangelib", "urllib3", "requests", "requests_ntlm", "spnego", "ntlm_auth")


class LogFormat(StrEnum):
    """How each log line is written."""

    TEXT = "text"
    """logfmt: ``key=value`` pairs, values quoted when they contain spaces."""
    JSON = "json"
    """One JSON object per line."""


def log_fields(record: logging.LogRecord, exc_text: str | None) -> dict[str, str]:
    """The structured fields of ``record``, in output order; empty ones left out."""
    lane = current_lane()
    fields = {
        "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
        .replace("+00:00", "Z"),
        "level": record.levelname,
        "logger": record.name,
        "thread": record.threadName or "",
        "mailbox": str(getattr(record, "mailbox", "") or (lane.mailbox if lane else "")),
        "lane": str(getattr(record, "lane", "") or (lane if lane else "")),
        "msg": record.getMessage(),
        "exc": exc_text or "",
    }
    return {name: value for name, value in fields.items() if value or name == "msg"}


class _StructuredFormatter(logging.Formatter):
    def exc_text(self, record: logging.LogRecord) -> str | None:
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        parts = [record.exc_text or "", self.formatStack(record.stack_info) if record.stack_info else ""]
        return "\n".join(p for p in parts if p) or None


class LogfmtFormatter(_StructuredFormatter):
    """``key=value`` lines; multi-line values (tracebacks) are quoted with escaped newlines."""

    def format(self, record: logging.LogRecord) -> str:
        fields = log_fields(record, self.exc_text(record))
        return " ".join(f"{name}={_logfmt_value(value)}" for name, value in fields.items())


class JsonFormatter(_StructuredFormatter):
    """One JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        return json.dumps(log_fields(record, self.exc_text(record)), ensure_ascii=False)


def _logfmt_value(value: str) -> str:
    if value and not any(c.isspace() or c in '="\\' for c in value):
        return value
    return json.dumps(value, ensure_ascii=False)


class ServiceLogging:
    """The handlers the service put on the root logger, their level, file and redactor."""

    def __init__(self, home: Home, settings: SystemSettings, *, secrets: Iterable[str] = (),
                 fmt: LogFormat = LogFormat.TEXT, stream: TextIO | None = None,
                 max_bytes: int = MAX_BYTES, backups: int = BACKUPS) -> None:
        self._home = home
        self._formatter: logging.Formatter = JsonFormatter() if fmt is LogFormat.JSON else LogfmtFormatter()
        self._max_bytes, self._backups = max_bytes, backups
        self.redactor = SecretRedactor(secrets)
        self._root = logging.getLogger()
        self._saved_levels = {name: logging.getLogger(name).level for name in ("", *FOREIGN_LOGGERS)}
        self._stream_handler = self._own(logging.StreamHandler(stream)) if stream is not None else None
        self._file_handler: logging.Handler | None = None
        self.path: Path | None = None
        self.apply(settings)

    def apply(self, settings: SystemSettings) -> None:
        """Take a configuration's LogLevel and LogFile (a new file is opened before the old is closed)."""
        level = settings.python_log_level()
        path = log_path(self._home, settings)
        if path != self.path:
            self._switch_file(path)
        self._root.setLevel(level)
        for name in FOREIGN_LOGGERS:
            logging.getLogger(name).setLevel(max(level, logging.WARNING))

    def add_secrets(self, secrets: Iterable[str]) -> None:
        """Scrub these values from every line from now on."""
        self.redactor.add(*secrets)

    def close(self) -> None:
        """Remove and close the service's handlers and restore the levels found at start."""
        for handler in (self._stream_handler, self._file_handler):
            if handler is not None:
                self._drop(handler)
        self._stream_handler = self._file_handler = None
        for name, level in self._saved_levels.items():
            logging.getLogger(name).setLevel(level)

    def _switch_file(self, path: Path) -> None:
        handler = self._own(_open_file_handler(path, self._max_bytes, self._backups))
        old, self._file_handler, self.path = self._file_handler, handler, path
        if old is not None:
            self._drop(old)

    def _own(self, handler: logging.Handler) -> logging.Handler:
        handler.setFormatter(self._formatter)
        handler.addFilter(self.redactor)
        self._root.addHandler(handler)
        return handler

    def _drop(self, handler: logging.Handler) -> None:
        self._root.removeHandler(handler)
        handler.close()


def log_path(home: Home, settings: SystemSettings) -> Path:
    """The file a configuration logs to: LogFile (relative to the home), else the home's log directory."""
    if settings.log_file is None:
        return home.log_dir / LOG_FILE_NAME
    return settings.log_file if settings.log_file.is_absolute() else home.root / settings.log_file


class PrivateRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """A rotating log whose every file (the current one after each rotation too) is created 0600."""

    def _open(self) -> Any:
        create_private(Path(self.baseFilename))
        return super()._open()


def _open_file_handler(path: Path, max_bytes: int, backups: int) -> logging.Handler:
    """A rotating handler on ``path``, created private; ConfigError when it cannot be written."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600))
        return PrivateRotatingFileHandler(path, maxBytes=max_bytes, backupCount=backups, encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"the log file cannot be written: {exc.strerror or exc}", path=str(path),
                          hint="set `log_file` in [settings] to a writable file and publish again, "
                          "or give the service's user write access to that directory") from exc


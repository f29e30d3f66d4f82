"""System settings: the legacy ``<SystemConfiguration>`` and ``<ProviderOverrides>`` knobs in human units.

Legacy values were milliseconds; here every interval is in seconds. Defaults are the values of the
official ``Microsoft.Crm.Tools.EmailAgent.xml`` sample. ``[settings]`` appears at most once.
"""

from __future__ import annotations

import logging
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import Field, field_validator

from router.config.common import StrictModel
from router.config.incoming import IncomingSettings

_PYTHON_LEVELS = {0: logging.CRITICAL, 1: logging.ERROR, 2: logging.INFO, 3: logging.DEBUG}


class SystemSettings(StrictModel):
    """Service-wide limits, periods and logging (``[settings]``)."""

    max_threads: int = Field(
        default=50, ge=1, le=1000, description="Most mailbox lanes working at once (legacy: MaxThreads).")
    max_thread_execution_seconds: float = Field(
        default=600.0, gt=0, description="Longest one mailbox's run may take before the log reports it as "
        "overrunning; the run keeps going and its mailbox waits for it to end, because a worker thread "
        "cannot be stopped safely (legacy: MaxThreadExecution, 600000 ms).")
    scheduling_period_seconds: float = Field(
        default=1.0, gt=0, description="Interval of the scheduler's tick that starts due mailbox work "
        "(legacy: SchedulingPeriod, 1000 ms).")
    config_refresh_period_seconds: float = Field(
        default=5.0, gt=0, description="How often the service checks for a newly published configuration "
        "(legacy: ConfigRefreshPeriod, 5000 ms).")
    config_update_period_seconds: float = Field(
        default=3600.0, gt=0, description="How often users' and queues' email settings are re-read from "
        "the CRM (legacy: ConfigUpdatePeriod, 3600000 ms).")
    escalate_after_failures: int = Field(
        default=10, ge=1, le=1000, description="Transient failures in a row (server busy, timeouts, network) "
        "after which a mailbox direction is treated as failing permanently: it stops and raises an alert "
        "until a new published version changes it or `email-router mailbox resume` (legacy: none; "
        "server-side sync turns transient errors permanent after its configured retries).")
    serve_only_enabled_mailboxes: bool = Field(
        default=False, description="Serve a CRM mailbox direction only once a passing Test Access has "
        "enabled it in the CRM (`enabledforincomingemail` / `enabledforoutgoingemail`), as server-side "
        "sync's Test & Enable does (legacy: none; the E-mail Router served every approved mailbox, so "
        "this is off by default).")
    log_level: int = Field(
        default=1, ge=0, le=3, description="0 none, 1 errors, 2 mailbox-level detail, 3 message-level "
        "detail (legacy: LogLevel).")
    log_file: Path | None = Field(
        default=None, description="Log file; default: the `logs` directory of the home (legacy: LogFile).")
    cache_capacity: int = Field(
        default=1024, ge=0, description="Processed message ids remembered per mailbox to suppress "
        "duplicates (legacy: CacheCapacity).")
    pending_status_delay_seconds: float = Field(
        default=300.0, ge=0, description="Wait before a CRM email left in Pending Send after a failed "
        "attempt is tried again (legacy: PendingStatusDelay, 300000 ms).")
    sending_status_delay_seconds: float = Field(
        default=1800.0, gt=0, description="Age after which an email stuck in Sending is treated as "
        "abandoned and recovered (legacy: SendingStatusDelay, 1800000 ms).")
    maximum_delivery_attempts: int = Field(
        default=10, ge=1, le=1000, description="Send attempts before an outgoing email is marked Failed "
        "(legacy: MaximumDeliveryAttempts).")
    ews_retrieve_message_count: int = Field(
        default=10, ge=1, le=1000, description="Messages fetched per mailbox per poll "
        "(legacy: EWSRetrieveMessageCount).")
    batch_size: int = Field(
        default=5, ge=1, le=1000, description="Mailboxes handled together per scheduling cycle "
        "(legacy: BatchSize).")
    request_batch_size: int = Field(
        default=5, ge=1, le=1000, description="Emails requested from or handed to the CRM per request "
        "(legacy: RequestBatchSize).")
    send_rate_per_minute: int = Field(
        default=30, ge=1, le=10000, description="Most emails one mailbox sends in any minute; emails over "
        "the limit wait in the router while other mailboxes go on. Exchange Online allows 30 (legacy: none; "
        "the legacy router sent as fast as Exchange accepted).")
    state_store: str | None = Field(
        default=None, description="Where the router keeps its state: a PostgreSQL URL "
        "`postgresql://host[:port]/database` shared by several router instances, or unset for the home's "
        "own SQLite file (one instance). No password in the URL: name a vault credential in "
        "`state_store_credential`. Takes effect when the service starts (legacy: none).")
    state_store_credential: str | None = Field(
        default=None, description="Vault credential (kind `password`) whose user name and password log in "
        "to the `state_store` database (legacy: none).")
    lease_seconds: float = Field(
        default=30.0, ge=5, le=3600, description="How long an instance's heartbeat stays valid: a router "
        "instance silent for longer is dead, and its work is taken over (legacy: none).")
    backlog_alert_seconds: float = Field(
        default=600.0, ge=30, description="A mailbox's backlog of unfinished messages that has not moved "
        "for this long raises an alert (legacy: none).")
    max_response_mb: int = Field(
        default=16, ge=1, le=4096, description="Largest answer read from Exchange (EWS, Autodiscover, "
        "OAuth), in MiB, for operations that do not carry messages; a larger one is discarded and the "
        "call fails as a transient error (legacy: none).")
    max_message_response_mb: int = Field(
        default=128, ge=1, le=4096, description="Largest answer of the EWS operations that carry whole "
        "messages (GetItem, GetAttachment, ExportItems) and of every Dynamics Web API call (emails and "
        "their attachments), in MiB (legacy: none).")
    outgoing_poll_seconds: float = Field(
        default=5.0, gt=0, le=3600, description="How often one question per CRM deployment asks which "
        "served mailboxes have e-mail to send (and hands back e-mails stuck in Sending); only those "
        "mailboxes' lanes run (legacy: one BackgroundSendEmail per BatchSize mailboxes per cycle).")
    sweep_interval_seconds: float = Field(
        default=300.0, gt=0, le=86400, description="Longest wait of an idle lane that Exchange notifications "
        "or the outgoing poll wake: it is run this often even when nothing says it changed (server-side "
        "sync: 5 minutes; legacy: none, it polled every mailbox each cycle).")
    incoming: IncomingSettings = Field(
        default_factory=IncomingSettings,
        description="Incoming pipeline limits: size policy, sender rate, notifications "
        "(`[settings.incoming]`; legacy: none, the legacy router had no such limits).")

    @field_validator("state_store")
    @classmethod
    def _shared_database_url(cls, value: str | None) -> str | None:
        """A PostgreSQL URL with a database and no password (the password belongs in the vault)."""
        if value is None:
            return None
        parsed = urlsplit(value)
        if parsed.scheme not in ("postgresql", "postgresql+psycopg"):
            raise ValueError("must be a postgresql://host/database URL (leave it unset for the home's SQLite "
                             "file)")
        if parsed.password:
            raise ValueError("must not contain a password: store it with `email-router credentials set NAME` "
                             "and name it in state_store_credential")
        if not parsed.path.strip("/"):
            raise ValueError("must name a database: postgresql://host/database")
        return value

    def python_log_level(self) -> int:
        """Return the ``logging`` level matching ``log_level`` (0 keeps only critical failures)."""
        return _PYTHON_LEVELS[self.log_level]

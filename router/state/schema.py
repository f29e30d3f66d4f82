"""The tables of the state store, as the newest migration leaves them (``router/state/migrations``).

Column types are portable (no SQLite-only types or SQL): timestamps go through ``UtcDateTime``, which
stores naive UTC where the database has no time zones and gives back aware UTC datetimes everywhere.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Dialect,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)

SCHEMA_VERSION = 4
"""The ``schema_meta`` version the newest migration writes; routers from before the Alembic history
read it and refuse a database written by a newer version."""


class UtcDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime in Python, whatever the database can store."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("the state store only stores aware datetimes")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = MetaData()

ADDRESS = String(320)
KEY = String(998)
ITEM_ID = String(512)

schema_meta = Table(
    "schema_meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", String(255), nullable=False),
)

incoming_ledger = Table(
    "incoming_ledger",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("mailbox", ADDRESS, nullable=False),
    Column("message_key", KEY, nullable=False),
    Column("internet_message_id", KEY),
    Column("item_id", ITEM_ID),
    Column("stage", String(16), nullable=False),
    Column("activity_id", String(64)),
    Column("attempts", Integer, nullable=False),
    Column("recoveries", Integer, nullable=False),
    Column("owner", String(128)),
    Column("lease_until", UtcDateTime),
    Column("retry_at", UtcDateTime),
    Column("last_error", Text),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("delivered_at", UtcDateTime),
    Column("finished_at", UtcDateTime),
    UniqueConstraint("mailbox", "message_key", name="uq_ledger_mailbox_key"),
)
Index("ix_ledger_message_id", incoming_ledger.c.internet_message_id)
Index("ix_ledger_delivered", incoming_ledger.c.delivered_at)
Index("ix_ledger_finished", incoming_ledger.c.finished_at)
Index("ix_ledger_stage", incoming_ledger.c.mailbox, incoming_ledger.c.stage)

sync_folders = Table(
    "sync_folders",
    metadata,
    Column("mailbox", ADDRESS, primary_key=True),
    Column("folder", String(512), primary_key=True),
    Column("sync_state", Text),
    Column("updated_at", UtcDateTime, nullable=False),
)

sync_mailboxes = Table(
    "sync_mailboxes",
    metadata,
    Column("mailbox", ADDRESS, primary_key=True),
    Column("process_from", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

decisions = Table(
    "decisions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("direction", String(8), nullable=False),
    Column("mailbox", ADDRESS, nullable=False),
    Column("message_key", KEY, nullable=False),
    Column("internet_message_id", KEY),
    Column("item_id", ITEM_ID),
    Column("stage", String(32), nullable=False),
    Column("result", String(32), nullable=False),
    Column("reason_code", String(64)),
    Column("correlation_method", String(64)),
    Column("activity_id", String(64)),
    Column("text", Text),
    Column("at", UtcDateTime, nullable=False),
)
Index("ix_decisions_message_id", decisions.c.internet_message_id)
Index("ix_decisions_key", decisions.c.mailbox, decisions.c.message_key)

quarantine = Table(
    "quarantine",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("mailbox", ADDRESS, nullable=False),
    Column("message_key", KEY, nullable=False),
    Column("internet_message_id", KEY),
    Column("item_id", ITEM_ID),
    Column("stage", String(32), nullable=False),
    Column("reason_code", String(64), nullable=False),
    Column("reason", Text, nullable=False),
    Column("mime", LargeBinary),
    Column("mime_ref", String(1024)),
    Column("status", String(16), nullable=False),
    Column("retry_count", Integer, nullable=False),
    Column("resolution", Text),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("retry_requested_at", UtcDateTime),
    Column("resolved_at", UtcDateTime),
    UniqueConstraint("mailbox", "message_key", name="uq_quarantine_mailbox_key"),
)
Index("ix_quarantine_status", quarantine.c.status, quarantine.c.mailbox)

outgoing_sends = Table(
    "outgoing_sends",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("mailbox", ADDRESS, nullable=False),
    Column("email_id", String(64), nullable=False, unique=True),
    Column("message_id", KEY, nullable=False, unique=True),
    Column("stage", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("recoveries", Integer, nullable=False),
    Column("owner", String(128)),
    Column("lease_until", UtcDateTime),
    Column("retry_at", UtcDateTime),
    Column("last_error", Text),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("submitted_at", UtcDateTime),
    Column("finished_at", UtcDateTime),
)
Index("ix_sends_submitted", outgoing_sends.c.submitted_at)
Index("ix_sends_stage", outgoing_sends.c.mailbox, outgoing_sends.c.stage)

mailbox_health = Table(
    "mailbox_health",
    metadata,
    Column("mailbox", ADDRESS, primary_key=True),
    Column("direction", String(8), primary_key=True),
    Column("status", String(16), nullable=False),
    Column("last_run_at", UtcDateTime),
    Column("last_success_at", UtcDateTime),
    Column("last_error", Text),
    Column("last_error_code", String(64)),
    Column("last_error_at", UtcDateTime),
    Column("consecutive_failures", Integer, nullable=False),
    Column("stopped", Boolean, nullable=False),
    Column("stopped_reason", Text),
    Column("next_due_at", UtcDateTime),
    Column("failing_since", UtcDateTime),
)

alerts = Table(
    "alerts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(64), nullable=False),
    Column("mailbox", ADDRESS, nullable=False),
    Column("text", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("occurrences", Integer, nullable=False),
    Column("raised_at", UtcDateTime, nullable=False),
    Column("last_seen_at", UtcDateTime, nullable=False),
    Column("resolved_at", UtcDateTime),
    Column("resolution", Text),
    Column("raised_notified_at", UtcDateTime),
    Column("recovered_notified_at", UtcDateTime),
)
Index("ix_alerts_open", alerts.c.status, alerts.c.kind, alerts.c.mailbox)


mailbox_directory = Table(
    "mailbox_directory",
    metadata,
    Column("mailbox", ADDRESS, primary_key=True),
    Column("direction", String(8), primary_key=True),
    Column("deployment", String(128), nullable=False),
    Column("role", String(16), nullable=False),
    Column("source", String(16), nullable=False),
    Column("served", Boolean, nullable=False),
    Column("reason", Text, nullable=False),
    Column("profile", String(128)),
    Column("crm_mailbox_id", String(64)),
    Column("config_version", Integer, nullable=False),
    Column("refreshed_at", UtcDateTime, nullable=False),
)

instances = Table(
    "instances",
    metadata,
    Column("instance", String(128), primary_key=True),
    Column("run_id", String(64), nullable=False),
    Column("host", String(255), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("started_at", UtcDateTime, nullable=False),
    Column("heartbeat_at", UtcDateTime, nullable=False),
    Column("stopped_at", UtcDateTime),
)


lane_leases = Table(
    "lane_leases",
    metadata,
    Column("mailbox", ADDRESS, primary_key=True),
    Column("direction", String(8), primary_key=True),
    Column("instance", String(128)),
    Column("run_id", String(64)),
    Column("token", BigInteger, nullable=False),
    Column("lease_until", UtcDateTime),
    Column("acquired_at", UtcDateTime),
)
Index("ix_lane_leases_owner", lane_leases.c.instance, lane_leases.c.run_id)

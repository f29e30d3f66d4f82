"""The state store as it stood before migrations: schema version 1 (ledger, sync states, decisions,
quarantine, sends, mailbox health, alerts, mailbox directory).

A SQLite home created before Alembic already has these tables and ``schema_meta`` version 1: it is
stamped at this revision instead of running it.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('alerts',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('kind', sa.String(length=64), nullable=False),
    sa.Column('mailbox', sa.String(length=320), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('occurrences', sa.Integer(), nullable=False),
    sa.Column('raised_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('resolution', sa.Text(), nullable=True),
    sa.Column('raised_notified_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('recovered_notified_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_alerts_open', 'alerts', ['status', 'kind', 'mailbox'], unique=False)
    op.create_table('decisions',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('direction', sa.String(length=8), nullable=False),
    sa.Column('mailbox', sa.String(length=320), nullable=False),
    sa.Column('message_key', sa.String(length=998), nullable=False),
    sa.Column('internet_message_id', sa.String(length=998), nullable=True),
    sa.Column('item_id', sa.String(length=512), nullable=True),
    sa.Column('stage', sa.String(length=32), nullable=False),
    sa.Column('result', sa.String(length=32), nullable=False),
    sa.Column('reason_code', sa.String(length=64), nullable=True),
    sa.Column('correlation_method', sa.String(length=64), nullable=True),
    sa.Column('activity_id', sa.String(length=64), nullable=True),
    sa.Column('text', sa.Text(), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_decisions_key', 'decisions', ['mailbox', 'message_key'], unique=False)
    op.create_index('ix_decisions_message_id', 'decisions', ['internet_message_id'], unique=False)
    op.create_table('incoming_ledger',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('mailbox', sa.String(length=320), nullable=False),
    sa.Column('message_key', sa.String(length=998), nullable=False),
    sa.Column('internet_message_id', sa.String(length=998), nullable=True),
    sa.Column('item_id', sa.String(length=512), nullable=True),
    sa.Column('stage', sa.String(length=16), nullable=False),
    sa.Column('activity_id', sa.String(length=64), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('recoveries', sa.Integer(), nullable=False),
    sa.Column('owner', sa.String(length=128), nullable=True),
    sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('retry_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('mailbox', 'message_key', name='uq_ledger_mailbox_key')
    )
    op.create_index('ix_ledger_delivered', 'incoming_ledger', ['delivered_at'], unique=False)
    op.create_index('ix_ledger_finished', 'incoming_ledger', ['finished_at'], unique=False)
    op.create_index('ix_ledger_message_id', 'incoming_ledger', ['internet_message_id'], unique=False)
    op.create_index('ix_ledger_stage', 'incoming_ledger', ['mailbox', 'stage'], unique=False)
    op.create_table('mailbox_directory',
    sa.Column('mailbox', sa.String(length=320), nullable=False),
    sa.Column('direction', sa.String(length=8), nullable=False),
    sa.Column('deployment', sa.String(length=128), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('served', sa.Boolean(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('profile', sa.String(length=128), nullable=True),
    sa.Column('crm_mailbox_id', sa.String(length=64), nullable=True),
    sa.Column('config_version', sa.Integer(), nullable=False),
    sa.Column('refreshed_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('mailbox', 'direction')
    )
    op.create_table('mailbox_health',
    sa.Column('mailbox', sa.String(length=320), nullable=False),
    sa.Column('direction', sa.String(length=8), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('last_run_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_success_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('last_error_code', sa.String(length=64), nullable=True),
    sa.Column('last_error_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('consecutive_failures', sa.Integer(), nullable=False),
    sa.Column('stopped', sa.Boolean(), nullable=False),
    sa.Column('stopped_reason', sa.Text(), nullable=True),
    sa.Column('next_due_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('mailbox', 'direction')
    )
    op.create_table('outgoing_sends',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('mailbox', sa.String(length=320), nullable=False),
    sa.Column('email_id', sa.String(length=64), nullable=False),
    sa.Column('message_id', sa.String(length=998), nullable=False),
    sa.Column('stage', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('recoveries', sa.Integer(), nullable=False),
    sa.Column('owner', sa.String(length=128), nullable=True),
    sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('retry_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('email_id'),
    sa.UniqueConstraint('message_id')
    )
    op.create_index('ix_sends_stage', 'outgoing_sends', ['mailbox', 'stage'], unique=False)
    op.create_index('ix_sends_submitted', 'outgoing_sends', ['submitted_at'], unique=False)
    op.create_table('quarantine',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('mailbox', sa.String(length=320), nullable=False),
    sa.Column('message_key', sa.String(length=998), nullable=False),
    sa.Column('internet_message_id', sa.String(length=998), nullable=True),
    sa.Column('item_id', sa.String(length=512), nullable=True),
    sa.Column('stage', sa.String(length=32), nullable=False),
    sa.Column('reason_code', sa.String(length=64), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('mime', sa.LargeBinary(), nullable=True),
    sa.Column('mime_ref', sa.String(length=1024), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('retry_count', sa.Integer(), nullable=False),
    sa.Column('resolution', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('retry_requested_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('mailbox', 'message_key', name='uq_quarantine_mailbox_key')
    )
    op.create_index('ix_quarantine_status', 'quarantine', ['status', 'mailbox'], unique=False)
    op.create_table('schema_meta',
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('value', sa.String(length=255), nullable=False),
    sa.PrimaryKeyConstraint('key')
    )
    op.create_table('sync_folders',
    sa.Column('mailbox', sa.String(length=320), nullable=False),
    sa.Column('folder', sa.String(length=512), nullable=False),
    sa.Column('sync_state', sa.Text(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('mailbox', 'folder')
    )
    op.create_table('sync_mailboxes',
    sa.Column('mailbox', sa.String(length=320), nullable=False),
    sa.Column('process_from', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('mailbox')
    )
    op.bulk_insert(sa.table("schema_meta", sa.column("key", sa.String), sa.column("value", sa.String)),
                   [{"key": "schema_version", "value": "1"}])

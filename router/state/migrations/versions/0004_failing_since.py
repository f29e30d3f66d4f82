"""Schema version 4: ``mailbox_health.failing_since``, when the current streak of failures began.

A streak that was already running before the upgrade keeps an unknown start (NULL): the store never
recorded it, and guessing from the last error would understate how long the mailbox has been failing.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("mailbox_health") as batch:
        batch.add_column(sa.Column("failing_since", sa.DateTime(timezone=True), nullable=True))
    meta = sa.table("schema_meta", sa.column("key", sa.String), sa.column("value", sa.String))
    op.execute(meta.update().where(meta.c.key == "schema_version").values(value="4"))

"""Schema version 3: ``lane_leases``, one row per mailbox lane, owned through a lease with a fencing token.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "lane_leases",
        sa.Column("mailbox", sa.String(length=320), nullable=False),
        sa.Column("direction", sa.String(length=8), nullable=False),
        sa.Column("instance", sa.String(length=128), nullable=True),
        sa.Column("run_id", sa.String(length=64), nullable=True),
        sa.Column("token", sa.BigInteger(), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acquired_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("mailbox", "direction"),
    )
    op.create_index("ix_lane_leases_owner", "lane_leases", ["instance", "run_id"], unique=False)
    meta = sa.table("schema_meta", sa.column("key", sa.String), sa.column("value", sa.String))
    op.execute(meta.update().where(meta.c.key == "schema_version").values(value="3"))

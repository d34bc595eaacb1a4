"""The records store's schema as ``Base.metadata.create_all`` made it before migrations.

A database made that way is stamped at this revision, not migrated
(failover.controller.migrations); so this must stay exactly that schema
(tests/failover/controller/test_records_migrations.py compares them).

Revision ID: 0001
Revises:
Create Date: 2026-11-29 20:48:02.264635
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "controller_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.Column("controller", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("unit", sa.String(length=64), nullable=True),
        sa.Column("site", sa.String(length=64), nullable=True),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_controller_events_at", "controller_events", ["at"])
    op.create_index("ix_controller_events_kind", "controller_events", ["kind"])


def downgrade() -> None:
    # Drops the audit trail: for scratch databases only (the store rolls forward).
    op.drop_table("controller_events")

"""callback delivery state on runs

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 13:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.models

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # recreate='never': SQLite adds (and drops) these columns in place. Recreating `runs` would
    # DROP it, and with foreign keys on that cascades into node_runs, approvals and deliveries.
    with op.batch_alter_table("runs", schema=None, recreate="never") as batch_op:
        batch_op.add_column(sa.Column("callback_state", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True))
        batch_op.add_column(sa.Column("callback_attempts", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("callback_due_at", storage.models.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("callback_claimed_by", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True)
        )
        batch_op.add_column(
            sa.Column("callback_claim_expires_at", storage.models.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.create_index(batch_op.f("ix_runs_callback_due_at"), ["callback_due_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("runs", schema=None, recreate="never") as batch_op:
        batch_op.drop_index(batch_op.f("ix_runs_callback_due_at"))
        batch_op.drop_column("callback_claim_expires_at")
        batch_op.drop_column("callback_claimed_by")
        batch_op.drop_column("callback_due_at")
        batch_op.drop_column("callback_attempts")
        batch_op.drop_column("callback_state")

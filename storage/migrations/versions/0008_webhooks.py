"""webhooks: a secret URL per workflow that starts a run with the request's JSON body

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23 16:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.models

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A new table only: no existing table is altered, so SQLite rebuilds nothing.
    op.create_table(
        "webhooks",
        sa.Column("workflow_id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("secret_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("secret", sa.LargeBinary(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("mode", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("sync_timeout_seconds", sa.Float(), nullable=False),
        sa.Column("max_body_bytes", sa.Integer(), nullable=False),
        sa.Column("created_at", storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("rotated_at", storage.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_called_at", storage.models.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["workflow_id"], ["workflows.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("workflow_id"),
    )
    # Unique: a request is looked up by the hash of its URL's secret, and one secret names one webhook.
    op.create_index(op.f("ix_webhooks_secret_hash"), "webhooks", ["secret_hash"], unique=True)


def downgrade() -> None:
    op.drop_index(op.f("ix_webhooks_secret_hash"), table_name="webhooks")
    op.drop_table("webhooks")

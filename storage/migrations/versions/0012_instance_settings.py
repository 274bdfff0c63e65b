"""instance settings: run retention per status, the default time zone and theme, the last prune

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05 05:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.models

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Text = sqlmodel.sql.sqltypes.AutoString
Time = storage.models.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "instance_settings",
        sa.Column("retention_completed_days", sa.Integer(), nullable=True),
        sa.Column("retention_failed_days", sa.Integer(), nullable=True),
        sa.Column("retention_cancelled_days", sa.Integer(), nullable=True),
        sa.Column("default_time_zone", Text(length=64), nullable=False),
        sa.Column("default_theme", Text(length=16), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("updated_at", Time(timezone=True), nullable=True),
        sa.Column("updated_by", Text(length=254), nullable=True),
        sa.Column("last_prune", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    op.drop_table("instance_settings")

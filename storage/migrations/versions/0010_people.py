"""people: users, their logins and API tokens, the audit log; who started a run; a workflow's approvers

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 19:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.models

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Text = sqlmodel.sql.sqltypes.AutoString
Time = storage.models.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("email", Text(length=254), nullable=False),
        sa.Column("name", Text(length=200), nullable=False),
        sa.Column("role", Text(length=16), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("id", Text(length=40), nullable=False),
        sa.Column("password_hash", Text(length=500), nullable=True),
        sa.Column("created_at", Time(timezone=True), nullable=False),
        sa.Column("updated_at", Time(timezone=True), nullable=False),
        sa.Column("last_login_at", Time(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_users_email"), "users", ["email"], unique=True)
    op.create_table(
        "logins",
        sa.Column("id", Text(length=40), nullable=False),
        sa.Column("token_hash", Text(length=64), nullable=False),
        sa.Column("user_id", Text(length=40), nullable=False),
        sa.Column("created_at", Time(timezone=True), nullable=False),
        sa.Column("last_seen_at", Time(timezone=True), nullable=False),
        sa.Column("expires_at", Time(timezone=True), nullable=False),
        sa.Column("ended_at", Time(timezone=True), nullable=True),
        sa.Column("ip", Text(length=64), nullable=True),
        sa.Column("user_agent", Text(length=300), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_logins_token_hash"), "logins", ["token_hash"], unique=True)
    op.create_index(op.f("ix_logins_user_id"), "logins", ["user_id"], unique=False)
    op.create_table(
        "api_tokens",
        sa.Column("id", Text(length=40), nullable=False),
        sa.Column("user_id", Text(length=40), nullable=False),
        sa.Column("name", Text(length=100), nullable=False),
        sa.Column("prefix", Text(length=16), nullable=False),
        sa.Column("token_hash", Text(length=64), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("created_at", Time(timezone=True), nullable=False),
        sa.Column("expires_at", Time(timezone=True), nullable=True),
        sa.Column("last_used_at", Time(timezone=True), nullable=True),
        sa.Column("revoked_at", Time(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_api_tokens_token_hash"), "api_tokens", ["token_hash"], unique=True)
    op.create_index(op.f("ix_api_tokens_user_id"), "api_tokens", ["user_id"], unique=False)
    op.create_table(
        "audit_events",
        sa.Column("actor", Text(length=254), nullable=False),
        sa.Column("actor_id", Text(length=40), nullable=True),
        sa.Column("action", Text(length=64), nullable=False),
        sa.Column("target", Text(length=300), nullable=True),
        sa.Column("detail", Text(length=2000), nullable=True),
        sa.Column("ip", Text(length=64), nullable=True),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", Time(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_audit_events_at"), "audit_events", ["at"], unique=False)
    op.create_index(op.f("ix_audit_events_action"), "audit_events", ["action"], unique=False)
    # Added columns with defaults: SQLite adds them in place, without rebuilding the tables.
    with op.batch_alter_table("runs", schema=None, recreate="never") as batch_op:
        batch_op.add_column(sa.Column("started_by", Text(length=254), nullable=True))
    with op.batch_alter_table("workflows", schema=None, recreate="never") as batch_op:
        batch_op.add_column(sa.Column("approvers", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("allow_self_approval", sa.Boolean(), server_default=sa.true(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("workflows", schema=None, recreate="never") as batch_op:
        batch_op.drop_column("allow_self_approval")
        batch_op.drop_column("approvers")
    with op.batch_alter_table("runs", schema=None, recreate="never") as batch_op:
        batch_op.drop_column("started_by")
    op.drop_table("audit_events")
    op.drop_table("api_tokens")
    op.drop_table("logins")
    op.drop_table("users")

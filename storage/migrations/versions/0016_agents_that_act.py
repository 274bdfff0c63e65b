"""agents that act: MCP servers, workflows offered as tools, one-step agent runs, the agent loop's journal

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05 08:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.models

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Text = sqlmodel.sql.sqltypes.AutoString
Time = storage.models.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "mcp_servers",
        sa.Column("name", Text(length=200), nullable=False),
        sa.Column("description", Text(length=5000), nullable=False),
        sa.Column("transport", Text(length=16), nullable=False),
        sa.Column("command", Text(length=2000), nullable=True),
        sa.Column("args", sa.JSON(), nullable=True),
        sa.Column("url", Text(length=2000), nullable=True),
        sa.Column("credential", Text(length=200), nullable=True),
        sa.Column("timeout_seconds", sa.Float(), nullable=False),
        sa.Column("id", Text(length=40), nullable=False),
        sa.Column("env_secret", sa.LargeBinary(), nullable=True),
        sa.Column("headers_secret", sa.LargeBinary(), nullable=True),
        sa.Column("tools", sa.JSON(), nullable=True),
        sa.Column("tools_listed_at", Time(timezone=True), nullable=True),
        sa.Column("created_by", Text(length=254), nullable=True),
        sa.Column("created_at", Time(timezone=True), nullable=False),
        sa.Column("updated_at", Time(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name", name="uq_mcp_servers_name"),
    )
    with op.batch_alter_table("workflows", schema=None, recreate="never") as batch_op:
        batch_op.add_column(sa.Column("offer_as_tool", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column("for_agent", Text(length=100), nullable=True))
        batch_op.create_index("ix_workflows_for_agent", ["for_agent"], unique=False)
    with op.batch_alter_table("approvals", schema=None, recreate="never") as batch_op:
        batch_op.add_column(sa.Column("extra", sa.JSON(), nullable=True))
    op.create_table(
        "agent_steps",
        sa.Column("run_id", Text(length=40), nullable=False),
        sa.Column("node_key", Text(length=64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("kind", Text(length=16), nullable=False),
        sa.Column("status", Text(length=24), nullable=False),
        sa.Column("turn", sa.Integer(), nullable=False),
        sa.Column("call_id", Text(length=200), nullable=True),
        sa.Column("tool", Text(length=200), nullable=True),
        sa.Column("arguments", sa.JSON(), nullable=True),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("usage", sa.JSON(), nullable=True),
        sa.Column("approval_id", Text(length=40), nullable=True),
        sa.Column("started_at", Time(timezone=True), nullable=True),
        sa.Column("finished_at", Time(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("run_id", "node_key", "seq"),
    )


def downgrade() -> None:
    op.drop_table("agent_steps")
    with op.batch_alter_table("approvals", schema=None, recreate="never") as batch_op:
        batch_op.drop_column("extra")
    with op.batch_alter_table("workflows", schema=None, recreate="never") as batch_op:
        batch_op.drop_index("ix_workflows_for_agent")
        batch_op.drop_column("for_agent")
        batch_op.drop_column("offer_as_tool")
    op.drop_table("mcp_servers")

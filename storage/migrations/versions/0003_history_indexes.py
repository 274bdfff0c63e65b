"""run history indexes, approval deadlines on nodes

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 13:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # recreate='never' throughout: on SQLite, recreating `runs` would DROP it, and with foreign keys on
    # that cascades into node_runs, approvals and callback deliveries.
    with op.batch_alter_table("runs", schema=None, recreate="never") as batch_op:
        batch_op.create_index(
            "ix_runs_status_trigger_created", ["status", "trigger", "created_at", "id"], unique=False
        )
        batch_op.create_index(
            "ix_runs_workflow_status_trigger_created",
            ["workflow_id", "status", "trigger", "created_at", "id"],
            unique=False,
        )
    with op.batch_alter_table("approvals", schema=None, recreate="never") as batch_op:
        batch_op.create_index("ix_approvals_status_deadline", ["status", "deadline_at"], unique=False)
    with op.batch_alter_table("nodes", schema=None, recreate="never") as batch_op:
        batch_op.add_column(sa.Column("approval_deadline_seconds", sa.Float(), nullable=True))
        batch_op.add_column(
            sa.Column("on_deadline", sa.String(length=16), server_default="wait", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("nodes", schema=None, recreate="never") as batch_op:
        batch_op.drop_column("on_deadline")
        batch_op.drop_column("approval_deadline_seconds")
    with op.batch_alter_table("approvals", schema=None, recreate="never") as batch_op:
        batch_op.drop_index("ix_approvals_status_deadline")
    with op.batch_alter_table("runs", schema=None, recreate="never") as batch_op:
        batch_op.drop_index("ix_runs_workflow_status_trigger_created")
        batch_op.drop_index("ix_runs_status_trigger_created")

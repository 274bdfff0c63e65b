"""sub-workflow runs: the parent run and step that started a run, and the chain of workflows it is nested in

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 15:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # recreate='never': on SQLite, recreating `runs` would DROP it, and with foreign keys on that cascades
    # into node_runs, approvals and callback deliveries. Nullable columns and an index need no rebuild.
    with op.batch_alter_table("runs", schema=None, recreate="never") as batch_op:
        batch_op.add_column(sa.Column("parent_run_id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True))
        batch_op.add_column(sa.Column("parent_node_key", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
        batch_op.add_column(sa.Column("chain", sa.JSON(), nullable=True))
        batch_op.create_index("ix_runs_parent", ["parent_run_id", "parent_node_key"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("runs", schema=None, recreate="never") as batch_op:
        batch_op.drop_index("ix_runs_parent")
        batch_op.drop_column("chain")
        batch_op.drop_column("parent_node_key")
        batch_op.drop_column("parent_run_id")

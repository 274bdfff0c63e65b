"""workflow samples: named sample inputs kept with a workflow, for the Run dialog and Try

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05 06:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("workflows", schema=None, recreate="never") as batch_op:
        batch_op.add_column(sa.Column("samples", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("workflows", schema=None, recreate="never") as batch_op:
        batch_op.drop_column("samples")

"""workflow callback secret: a workflow may sign its runs' callbacks with a secret of its own

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 20:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("workflows", schema=None, recreate="never") as batch_op:
        batch_op.add_column(sa.Column("callback_secret", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("workflows", schema=None, recreate="never") as batch_op:
        batch_op.drop_column("callback_secret")

"""analysis revision: a count of the changes made to a finished analysis's results

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 10:00:00

An expand step: a column with a server default. The placement of new narratives and the
withdrawal of stories raise it, so readers that keep an analysis's counts in memory know when
to read them again. The previous release leaves it alone; readers also compare the counts it
does keep (narratives, placed narratives).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("analyses") as batch_op:
        batch_op.add_column(sa.Column("revision", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("analyses") as batch_op:
        batch_op.drop_column("revision")

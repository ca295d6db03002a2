"""job chunks: an embedding job's chunk jobs name the job they belong to

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 16:30:00

An expand step: a nullable column and its index. Jobs queued before it have no parent, as
every job of the previous release has.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch_op:
        batch_op.add_column(sa.Column("parent_id", sa.String(length=32), nullable=True))
        batch_op.create_foreign_key(
            op.f("fk_jobs_parent_id_jobs"), "jobs", ["parent_id"], ["id"], ondelete="CASCADE"
        )
        batch_op.create_index("ix_jobs_parent_id", ["parent_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch_op:
        batch_op.drop_index("ix_jobs_parent_id")
        batch_op.drop_constraint(op.f("fk_jobs_parent_id_jobs"), type_="foreignkey")
        batch_op.drop_column("parent_id")

"""job leases: the running attempt's token, and when its lease ends

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 06:20:00

Jobs running when this applies have no lease; the sweeper treats them as expired once they
have run longer than a lease (app/jobs/lease.py), as a worker of this release would.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch_op:
        batch_op.add_column(sa.Column("run_token", sa.String(length=32), nullable=True))
        batch_op.add_column(
            sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch_op:
        batch_op.drop_column("lease_expires_at")
        batch_op.drop_column("run_token")

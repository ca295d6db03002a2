"""why a narrative is left out of the themes; a project's own placeholder strings

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 01:40:00

Narratives stored before this revision keep their low-content flag without a reason, and
placeholders among them ("Did not answer") stay in the themes until they are stored again:
the rules live in pipelines/nonresponse.py, which a migration should not import.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("narratives") as batch_op:
        batch_op.add_column(sa.Column("low_content_reason", sa.String(length=40), nullable=True))
    with op.batch_alter_table("projects") as batch_op:
        batch_op.add_column(
            sa.Column(
                "placeholders",
                sa.JSON().with_variant(postgresql.JSONB(), "postgresql"),
                server_default="[]",
                nullable=False,
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("projects") as batch_op:
        batch_op.drop_column("placeholders")
    with op.batch_alter_table("narratives") as batch_op:
        batch_op.drop_column("low_content_reason")

"""uploads, reactions and vote tallies

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 13:33:38.174876
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON_TYPE = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "reactions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.String(length=32), nullable=False),
        sa.Column("narrative_id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=True),
        sa.Column("author", sa.String(length=200), nullable=True),
        sa.Column("emoji", sa.String(length=200), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["narrative_id"],
            ["narratives.id"],
            name=op.f("fk_reactions_narrative_id_narratives"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_reactions_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["source_id"],
            ["sources.id"],
            name=op.f("fk_reactions_source_id_sources"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reactions")),
    )
    op.create_index("ix_reactions_narrative_id", "reactions", ["narrative_id"])

    op.create_table(
        "vote_tallies",
        sa.Column("narrative_id", sa.Integer(), nullable=False),
        sa.Column("group_key", sa.String(length=100), nullable=False),
        sa.Column("agree", sa.Integer(), nullable=False),
        sa.Column("disagree", sa.Integer(), nullable=False),
        sa.Column("passed", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["narrative_id"],
            ["narratives.id"],
            name=op.f("fk_vote_tallies_narrative_id_narratives"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("narrative_id", "group_key", name=op.f("pk_vote_tallies")),
    )

    with op.batch_alter_table("narratives", schema=None) as batch_op:
        batch_op.add_column(sa.Column("replies_to_id", sa.Integer(), nullable=True))
        batch_op.create_index("ix_narratives_replies_to_id", ["replies_to_id"])
        batch_op.create_foreign_key(
            op.f("fk_narratives_replies_to_id_narratives"),
            "narratives",
            ["replies_to_id"],
            ["id"],
            ondelete="SET NULL",
        )

    with op.batch_alter_table("sources", schema=None) as batch_op:
        # sources that exist already were stored by a JSON batch request
        batch_op.add_column(
            sa.Column(
                "status",
                sa.Enum(
                    "queued",
                    "running",
                    "stored",
                    "failed",
                    name="source_status",
                    native_enum=False,
                    length=16,
                ),
                server_default="stored",
                nullable=False,
            )
        )
        batch_op.add_column(sa.Column("job_id", sa.String(length=32), nullable=True))
        batch_op.add_column(
            sa.Column("files", JSON_TYPE, nullable=False, server_default=sa.text("'[]'"))
        )
        batch_op.add_column(
            sa.Column("options", JSON_TYPE, nullable=False, server_default=sa.text("'{}'"))
        )
        batch_op.add_column(sa.Column("error", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_foreign_key(
            op.f("fk_sources_job_id_jobs"), "jobs", ["job_id"], ["id"], ondelete="SET NULL"
        )


def downgrade() -> None:
    with op.batch_alter_table("sources", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("fk_sources_job_id_jobs"), type_="foreignkey")
        batch_op.drop_column("finished_at")
        batch_op.drop_column("error")
        batch_op.drop_column("options")
        batch_op.drop_column("files")
        batch_op.drop_column("job_id")
        batch_op.drop_column("status")

    with op.batch_alter_table("narratives", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("fk_narratives_replies_to_id_narratives"), type_="foreignkey")
        batch_op.drop_index("ix_narratives_replies_to_id")
        batch_op.drop_column("replies_to_id")

    op.drop_table("vote_tallies")
    op.drop_index("ix_reactions_narrative_id", table_name="reactions")
    op.drop_table("reactions")

"""theme hierarchy, soft membership, lineage and incremental placement

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 15:51:22.013146
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON_TYPE = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "theme_lineage",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("analysis_id", sa.Integer(), nullable=False),
        sa.Column("previous_analysis_id", sa.Integer(), nullable=True),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("previous_keys", JSON_TYPE, nullable=False),
        sa.Column("current_keys", JSON_TYPE, nullable=False),
        sa.Column("overlaps", JSON_TYPE, nullable=False),
        sa.Column("similarity", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["analysis_id"],
            ["analyses.id"],
            name=op.f("fk_theme_lineage_analysis_id_analyses"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["previous_analysis_id"],
            ["analyses.id"],
            name=op.f("fk_theme_lineage_previous_analysis_id_analyses"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_theme_lineage")),
    )
    with op.batch_alter_table("theme_lineage", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_theme_lineage_analysis_id"), ["analysis_id"], unique=False
        )

    op.create_table(
        "theme_memberships",
        sa.Column("analysis_id", sa.Integer(), nullable=False),
        sa.Column("narrative_id", sa.Integer(), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("theme_id", sa.Integer(), nullable=False),
        sa.Column("probability", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["analysis_id"],
            ["analyses.id"],
            name=op.f("fk_theme_memberships_analysis_id_analyses"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["narrative_id"],
            ["narratives.id"],
            name=op.f("fk_theme_memberships_narrative_id_narratives"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["theme_id"],
            ["themes.id"],
            name=op.f("fk_theme_memberships_theme_id_themes"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "analysis_id", "narrative_id", "rank", name=op.f("pk_theme_memberships")
        ),
    )
    with op.batch_alter_table("theme_memberships", schema=None) as batch_op:
        batch_op.create_index(
            "ix_theme_memberships_analysis_id_theme_id", ["analysis_id", "theme_id"], unique=False
        )

    with op.batch_alter_table("analyses", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("incremental_count", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column("incremental_unassigned", sa.Integer(), server_default="0", nullable=False)
        )

    with op.batch_alter_table("theme_assignments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("subtheme_id", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("incremental", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_theme_assignments_subtheme_id_themes"),
            "themes",
            ["subtheme_id"],
            ["id"],
            ondelete="CASCADE",
        )


def downgrade() -> None:
    with op.batch_alter_table("theme_assignments", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_theme_assignments_subtheme_id_themes"), type_="foreignkey"
        )
        batch_op.drop_column("incremental")
        batch_op.drop_column("subtheme_id")

    with op.batch_alter_table("analyses", schema=None) as batch_op:
        batch_op.drop_column("incremental_unassigned")
        batch_op.drop_column("incremental_count")

    with op.batch_alter_table("theme_memberships", schema=None) as batch_op:
        batch_op.drop_index("ix_theme_memberships_analysis_id_theme_id")

    op.drop_table("theme_memberships")
    with op.batch_alter_table("theme_lineage", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_theme_lineage_analysis_id"))

    op.drop_table("theme_lineage")

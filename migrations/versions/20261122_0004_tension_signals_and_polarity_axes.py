"""tension signals, narrative scores and polarity axes

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 14:25:50.864891
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON_TYPE = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "polarity_axes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("label", sa.String(length=300), nullable=False),
        sa.Column("left", sa.String(length=500), nullable=False),
        sa.Column("right", sa.String(length=500), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_polarity_axes_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_polarity_axes")),
        sa.UniqueConstraint("project_id", "key", name=op.f("uq_polarity_axes_project_id_key")),
    )
    op.create_table(
        "signals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("analysis_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=True),
        sa.Column("attribute", sa.String(length=100), nullable=True),
        sa.Column("theme_key", sa.String(length=32), nullable=True),
        sa.Column("theme_keys", JSON_TYPE, nullable=False),
        sa.Column("strength", sa.Float(), nullable=False),
        sa.Column("strength_name", sa.String(length=60), nullable=False),
        sa.Column("flagged", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("test", sa.String(length=100), nullable=True),
        sa.Column("p_value", sa.Float(), nullable=True),
        sa.Column("p_adjusted", sa.Float(), nullable=True),
        sa.Column("correction", sa.String(length=8), nullable=True),
        sa.Column("interval_low", sa.Float(), nullable=True),
        sa.Column("interval_high", sa.Float(), nullable=True),
        sa.Column("evidence", JSON_TYPE, nullable=False),
        sa.Column("exemplars", JSON_TYPE, nullable=False),
        sa.ForeignKeyConstraint(
            ["analysis_id"],
            ["analyses.id"],
            name=op.f("fk_signals_analysis_id_analyses"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signals")),
    )
    op.create_index("ix_signals_analysis_id_kind", "signals", ["analysis_id", "kind"])
    op.create_index("ix_signals_analysis_id_theme_key", "signals", ["analysis_id", "theme_key"])
    op.create_table(
        "narrative_scores",
        sa.Column("analysis_id", sa.Integer(), nullable=False),
        sa.Column("narrative_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["analysis_id"],
            ["analyses.id"],
            name=op.f("fk_narrative_scores_analysis_id_analyses"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["narrative_id"],
            ["narratives.id"],
            name=op.f("fk_narrative_scores_narrative_id_narratives"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "analysis_id", "narrative_id", "name", name=op.f("pk_narrative_scores")
        ),
    )
    op.create_index("ix_narrative_scores_narrative_id", "narrative_scores", ["narrative_id"])


def downgrade() -> None:
    op.drop_index("ix_narrative_scores_narrative_id", table_name="narrative_scores")
    op.drop_table("narrative_scores")
    op.drop_index("ix_signals_analysis_id_theme_key", table_name="signals")
    op.drop_index("ix_signals_analysis_id_kind", table_name="signals")
    op.drop_table("signals")
    op.drop_table("polarity_axes")

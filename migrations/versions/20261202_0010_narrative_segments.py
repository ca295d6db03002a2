"""segments of long narratives and their vectors

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 06:00:00

Texts embedded before this revision keep their whole-text vector and have no segments: they
are treated as short until they are embedded again.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "narrative_segments",
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("text_hash", sa.String(length=64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("start_char", sa.Integer(), nullable=False),
        sa.Column("end_char", sa.Integer(), nullable=False),
        sa.Column("segment_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint(
            "model", "text_hash", "position", name=op.f("pk_narrative_segments")
        ),
    )
    op.create_index(
        "ix_narrative_segments_model_segment_hash",
        "narrative_segments",
        ["model", "segment_hash"],
    )
    op.create_table(
        "segment_embeddings",
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("text_hash", sa.String(length=64), nullable=False),
        sa.Column("dimension", sa.Integer(), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("model", "text_hash", name=op.f("pk_segment_embeddings")),
    )


def downgrade() -> None:
    op.drop_table("segment_embeddings")
    op.drop_index("ix_narrative_segments_model_segment_hash", table_name="narrative_segments")
    op.drop_table("narrative_segments")

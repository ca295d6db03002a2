"""pseudonym keys leave the database; projects may keep redacted chat files

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 00:30:00

The keys themselves move into the secret file when the service starts
(app/services/pseudonym_secret.py), not here: the service is what knows where its data
directory is, and several processes may start at once.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("projects") as batch_op:
        batch_op.alter_column("pseudonym_key", existing_type=sa.String(length=64), nullable=True)
        batch_op.add_column(
            sa.Column("keep_chat_files", sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade() -> None:
    projects = sa.table(
        "projects", sa.column("id", sa.String()), sa.column("pseudonym_key", sa.String())
    )
    conn = op.get_bind()
    missing = [
        row.id
        for row in conn.execute(sa.select(projects.c.id).where(projects.c.pseudonym_key.is_(None)))
    ]
    if missing:
        # the keys go back into the column, so the older code keeps every pseudonym
        from app.config import Settings
        from app.services.pseudonym_secret import read_keyring, secret_path

        settings = Settings()
        keyring = read_keyring(settings)
        if keyring is None:
            raise RuntimeError(
                f"downgrading needs the pseudonym secret file ({secret_path(settings)} not "
                "found): run it with the service's WEFT_DATA_DIR or WEFT_PSEUDONYM_SECRET_FILE"
            )
        for project_id in missing:
            conn.execute(
                projects.update()
                .where(projects.c.id == project_id)
                .values(pseudonym_key=keyring.key_for(project_id))
            )
    with op.batch_alter_table("projects") as batch_op:
        batch_op.drop_column("keep_chat_files")
        batch_op.alter_column("pseudonym_key", existing_type=sa.String(length=64), nullable=False)

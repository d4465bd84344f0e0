"""teams: the team that works a ticket, and the teams whose chats an agent has worked in

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 13:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        batch.add_column(sa.Column("team", sqlmodel.sql.sqltypes.AutoString(), nullable=True))
        batch.create_index("ix_tickets_team", ["team"], unique=False)
    with op.batch_alter_table("agents") as batch:
        batch.add_column(sa.Column("teams", sa.JSON(), nullable=False, server_default="[]"))


def downgrade() -> None:
    with op.batch_alter_table("agents") as batch:
        batch.drop_column("teams")
    with op.batch_alter_table("tickets") as batch:
        batch.drop_index("ix_tickets_team")
        batch.drop_column("team")

"""report schedules: the daily digest's due time and the last day it covered

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04 17:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.types

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "report_schedules",
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("spec", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("next_due_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("covered_day", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("sent_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("report_schedules")

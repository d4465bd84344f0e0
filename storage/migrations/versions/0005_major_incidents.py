"""major incidents: links between tickets, closing causes, merge proposals, declared outages and their followers

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04 19:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.types

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        batch.add_column(sa.Column("service_key", sqlmodel.sql.sqltypes.AutoString(), nullable=True))
        batch.add_column(sa.Column("cause", sqlmodel.sql.sqltypes.AutoString(), nullable=True))
        batch.add_column(sa.Column("is_major", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("parent_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("linked_at", storage.types.UTCDateTime(timezone=True), nullable=True))
        batch.create_index("ix_tickets_parent_id", ["parent_id"], unique=False)
        batch.create_foreign_key("fk_tickets_parent_id_tickets", "tickets", ["parent_id"], ["id"])
    op.create_table(
        "major_proposals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("ticket_ids", sa.JSON(), nullable=False),
        sa.Column("explanation", sa.Text(), nullable=True),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("decided_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("decided_by_id", sa.BigInteger(), nullable=True),
        sa.Column("decided_by_name", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.ForeignKeyConstraint(["parent_id"], ["tickets.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_major_proposals_status", "major_proposals", ["status"], unique=False)
    op.create_table(
        "declared_outages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("service", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("service_word", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("declared_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("declared_by_id", sa.BigInteger(), nullable=True),
        sa.Column("declared_by_name", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("ended_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_declared_outages_ended_at", "declared_outages", ["ended_at"], unique=False)
    op.create_table(
        "outage_followers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("outage_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"]),
        sa.ForeignKeyConstraint(["outage_id"], ["declared_outages.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("outage_id", "customer_id", name="uq_outage_followers_outage_customer"),
    )
    op.create_index("ix_outage_followers_outage_id", "outage_followers", ["outage_id"], unique=False)
    op.create_index("ix_outage_followers_customer_id", "outage_followers", ["customer_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_outage_followers_customer_id", table_name="outage_followers")
    op.drop_index("ix_outage_followers_outage_id", table_name="outage_followers")
    op.drop_table("outage_followers")
    op.drop_index("ix_declared_outages_ended_at", table_name="declared_outages")
    op.drop_table("declared_outages")
    op.drop_index("ix_major_proposals_status", table_name="major_proposals")
    op.drop_table("major_proposals")
    with op.batch_alter_table("tickets") as batch:
        batch.drop_constraint("fk_tickets_parent_id_tickets", type_="foreignkey")
        batch.drop_index("ix_tickets_parent_id")
        batch.drop_column("linked_at")
        batch.drop_column("parent_id")
        batch.drop_column("is_major")
        batch.drop_column("cause")
        batch.drop_column("service_key")

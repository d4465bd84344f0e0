"""flood control: each inbox row says which input of its chat it is and when it was sent; held messages

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05 14:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.types

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("inbox") as batch:
        batch.add_column(sa.Column("input_key", sqlmodel.sql.sqltypes.AutoString(), nullable=True))
        batch.add_column(sa.Column("sent_date", sa.BigInteger(), nullable=True))
        batch.create_index("ix_inbox_chat_sent", ["chat_key", "sent_date"], unique=False)
    op.create_table(
        "held_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("update_id", sa.BigInteger(), nullable=False),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.Column("received_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("digest_due_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("update_id"),
    )
    op.create_index("ix_held_messages_customer_id", "held_messages", ["customer_id"], unique=False)
    op.create_index("ix_held_messages_digest_due_at", "held_messages", ["digest_due_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_held_messages_digest_due_at", table_name="held_messages")
    op.drop_index("ix_held_messages_customer_id", table_name="held_messages")
    op.drop_table("held_messages")
    with op.batch_alter_table("inbox") as batch:
        batch.drop_index("ix_inbox_chat_sent")
        batch.drop_column("sent_date")
        batch.drop_column("input_key")

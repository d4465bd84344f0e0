"""tickets found by their forum topic (a message in a ticket's topic goes to its customer)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05 13:40:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_tickets_staff_topic", "tickets", ["staff_chat_id", "staff_thread_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_tickets_staff_topic", table_name="tickets")

"""Agents' messages whose words went to a ticket's customer: remembered so that an edit of one can be
sent as a correction (helpdesk/corrections.py)."""

from __future__ import annotations

from sqlalchemy import delete
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import RelayedMessage


def remember(session: AsyncSession, chat_id: int, message_id: int, ticket_id: int, kind: str, digest: str) -> None:
    """The agent's message `message_id` in `chat_id` went to the customer of `ticket_id` as `kind`."""
    session.add(RelayedMessage(chat_id=chat_id, message_id=message_id, ticket_id=ticket_id, kind=kind, digest=digest))


async def find(session: AsyncSession, chat_id: int, message_id: int) -> RelayedMessage | None:
    """The agent's message as it was relayed, locked (an edit updates it)."""
    stmt = (
        select(RelayedMessage)
        .where(RelayedMessage.chat_id == chat_id, RelayedMessage.message_id == message_id)
        .with_for_update()
    )
    return (await session.exec(stmt)).first()


async def forget_ticket(session: AsyncSession, ticket_id: int) -> None:
    """The ticket's relayed messages (message references: erased with its personal data)."""
    await session.execute(delete(RelayedMessage).where(col(RelayedMessage.ticket_id) == ticket_id))

"""Internal notes: what agents write about a ticket for each other, never relayed to the customer.

In a ticket's forum topic (STAFF_TOPICS) agents talk to the customer by writing plainly; a message that
starts with `!` is a note instead (as is a reply to the ticket's card or messages that starts with `!`).
It is stored on the ticket (the `note` event, shown in its history with /ticket N and Details).
"""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from helpdesk import tickets
from helpdesk.agent_actions import Notice, Refusal
from helpdesk.clock import now_utc
from helpdesk.content import Content
from helpdesk.people import Actor
from storage.models import Ticket

#: how a note starts
MARK = "!"


def is_note(content: Content) -> bool:
    """The agent's words start with the note mark."""
    return content.words.startswith(MARK)


async def add_note(session: AsyncSession, ticket: Ticket, actor: Actor, content: Content) -> Notice:
    """The note (its words without the mark, and its file) on the ticket; nothing goes to the customer."""
    words = content.words.removeprefix(MARK).strip()
    if not words and content.file is None:
        raise Refusal("replies.topic.empty_note")
    note = Content(text=words, file=content.file, chat_id=content.chat_id, message_id=content.message_id)
    await tickets.record_content(
        session, ticket, "note", note, now_utc(), actor_kind="agent", actor_id=actor.user_id, actor_name=actor.name
    )
    return Notice("replies.topic.note_added", {"number": ticket.number})

"""Agents' edits both ways: an agent who edits a message that went to a customer (a reply to the card or
to the ticket's messages, `/reply N text`, `/ask N question`, a message in the ticket's topic) sends the
customer the corrected words, marked as a correction, once per edit.

Each relayed message is remembered (`storage.relayed_messages`) with a digest of what the agent typed;
an edit to the same words sends nothing, and an edit of a message that never reached a customer is not
found here. The correction goes where the original went (`customer_notices.relay_to_audience`: for a
major incident every linked customer) and is recorded on the ticket as `correction`.
"""

from __future__ import annotations

import hashlib

from sqlmodel.ext.asyncio.session import AsyncSession

from helpdesk import agent_actions, customer_notices, tickets
from helpdesk.agent_actions import Notice, Refusal
from helpdesk.clock import now_utc
from helpdesk.content import Content
from helpdesk.people import Actor
from helpdesk.policy import DeskPolicy
from helpdesk.vocabulary import State
from storage import relayed_messages
from storage.models import RelayedMessage, Ticket

#: what a relayed message was: kinds of RelayedMessage
REPLY, QUESTION = "reply", "question"


def digest(typed: str) -> str:
    """What the agent typed, as compared across edits (spaces at the ends do not count)."""
    return hashlib.sha256(typed.strip().encode("utf-8")).hexdigest()


def typed(content: Content) -> str:
    """What the agent typed in a message relayed as it is: its formatted words and its file."""
    file = (content.file or {}).get("file_unique_id") or (content.file or {}).get("file_id") or ""
    return f"{content.html or content.words}\n{file}" if file else (content.html or content.words)


def remember(session: AsyncSession, chat_id: int, message_id: int, ticket: Ticket, kind: str, typed: str) -> None:
    """The agent's message went to the ticket's customer as `kind` (REPLY or QUESTION)."""
    assert ticket.id is not None
    relayed_messages.remember(session, chat_id, message_id, ticket.id, kind, digest(typed))


async def relayed(session: AsyncSession, chat_id: int, message_id: int) -> RelayedMessage | None:
    """The agent's message, if it went to a customer."""
    return await relayed_messages.find(session, chat_id, message_id)


async def correct(
    session: AsyncSession,
    original: RelayedMessage,
    ticket: Ticket,
    actor: Actor,
    words: customer_notices.Words,
    typed: str,
    policy: DeskPolicy,
) -> Notice | None:
    """The edited words to the customer as a correction; None when they are what was sent already."""
    new_digest = digest(typed)
    if new_digest == original.digest:
        return None
    agent_actions.require_writable(ticket)
    customer, lang = await customer_notices.recipient(session, ticket, policy)
    own = customer_notices.words_for(words, customer_notices.Recipient(ticket, customer, lang, ticket.number))
    if own.is_empty:
        raise Refusal("agents.error.empty_reply", number=ticket.number)
    if customer is None:
        raise Refusal("agents.error.no_customer", number=ticket.number)
    buttons = customer_notices.answer_button if original.kind == QUESTION and State(ticket.state).is_open else None
    header = "replies.customer.correction"
    await customer_notices.relay_to_audience(session, ticket, words, header, policy, buttons=buttons)
    now = now_utc()
    await tickets.record_content(
        session, ticket, "correction", own, now, actor_kind="agent", actor_id=actor.user_id, actor_name=actor.name
    )
    original.digest, original.edited_at = new_digest, now
    session.add(original)
    ticket.updated_at = now
    session.add(ticket)
    return Notice("replies.edits.corrected", {"number": ticket.number})

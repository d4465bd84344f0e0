"""An article an agent sends to a ticket's customer: `/kb N NAME`.

The article (KB_DIR, helpdesk/knowledge/) goes to the customer in their language, headed with the ticket
number and linked to the ticket (a reply to it is about the ticket); the ticket's history records it,
and, like a reply, it is a first response and starts work on a new ticket.
"""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from helpdesk import agent_actions, cards, customer_notices, due_times, self_help, tickets
from helpdesk.agent_actions import Notice, Refusal
from helpdesk.clock import now_utc
from helpdesk.i18n import t
from helpdesk.knowledge import KnowledgeBase
from helpdesk.lifecycle import apply_transition
from helpdesk.markdown_html import MESSAGE_LIMIT
from helpdesk.people import Actor
from helpdesk.policy import DeskPolicy
from helpdesk.vocabulary import State
from storage.models import Ticket

#: room kept in the first message of an article for the header naming the ticket
HEADER_ROOM = 200


async def send_article(
    session: AsyncSession, ticket: Ticket, actor: Actor, name: str, knowledge: KnowledgeBase, policy: DeskPolicy
) -> Notice:
    """`/kb N NAME`: the article to the ticket's customer in their language, recorded in the ticket's
    history; like a reply, it is a first response and starts work on a new ticket."""
    if not knowledge:
        raise Refusal("self_help.agents.no_articles")
    article = knowledge.get(name)
    if article is None:
        raise Refusal("self_help.agents.unknown_article", name=name[:40], names=", ".join(knowledge.names))
    agent_actions.require_writable(ticket)
    customer, lang = await customer_notices.recipient(session, ticket, policy)
    if customer is None:
        raise Refusal("agents.error.no_customer", number=ticket.number)
    header = t(lang, "self_help.customer.article_header", number=ticket.number)
    for index, text in enumerate(article.messages(lang, MESSAGE_LIMIT - HEADER_ROOM)):
        customer_notices.tell(session, ticket, customer, f"{header}\n\n{text}" if index == 0 else text)
    now = now_utc()
    tickets.record_event(
        session,
        ticket,
        "article",
        actor_kind="agent",
        actor_id=actor.user_id,
        actor_name=actor.name,
        note=f"{article.name}: {article.title(lang)}",
        data={"article": article.name, "language": lang},
        at=now,
    )
    self_help.record(session, self_help.SENT, article=article.name, lang=lang)
    due_times.on_first_response(ticket, now)
    ticket.updated_at = now
    if ticket.state == State.NEW.value:
        await apply_transition(
            session,
            ticket,
            State.IN_PROGRESS,
            policy,
            now,
            actor_kind="agent",
            actor_id=actor.user_id,
            actor_name=actor.name,
        )
        await cards.refresh_card(session, ticket, policy)
    else:
        due_times.on_public_update(ticket, policy, now)
    session.add(ticket)
    return Notice("self_help.agents.sent", {"number": ticket.number, "title": article.title(lang), "lang": lang})

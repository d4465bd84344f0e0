"""Self-help from the agents' side: `/kb N NAME` sends a knowledge-base article to ticket N's customer,
in their language (helpdesk/agent_articles.py has the rules and refusals)."""

from __future__ import annotations

from bot.handlers.agent_command import TEXT, AgentCall, ticket_command
from helpdesk import agent_articles
from helpdesk.agent_actions import Notice, Refusal
from storage.models import Ticket


@ticket_command("self_help.agents.usage", TEXT)
async def kb(call: AgentCall, ticket: Ticket, name: str) -> Notice:
    """`/kb N NAME`: the article NAME to the customer of N."""
    words = name.split()
    if len(words) != 1:
        raise Refusal("self_help.agents.usage")
    return await agent_articles.send_article(
        call.session, ticket, call.actor, words[0], call.policy.knowledge, call.policy
    )

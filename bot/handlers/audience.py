"""Who may use a route: checked by the dispatch on every update, from AGENT_IDS and the chat it came from.

An agent is someone in AGENT_IDS; where they may act is the chat: a private chat with the bot, the staff
chat, or a team's chat (TEAMS). Which tickets they may act on there is the domain's rule
(`helpdesk.teams.acting_refusal`), checked by the handlers once the ticket is known.

Button data and commands can be typed or forged by anyone, so the check never trusts the update's
content, only who sent it and where. Anonymous admins and channels have no sender and match no audience.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bot.handlers.context import HandlerContext


@dataclass(frozen=True)
class Audience:
    name: str
    admits: Callable[[HandlerContext], bool]

    def __str__(self) -> str:
        return self.name


# The checks are functions, not lambdas, so that the mutation test (scripts/mutation) reaches them.


def _agent(ctx: HandlerContext) -> bool:
    return ctx.is_agent and (ctx.is_private or ctx.in_staff_chat)


def _staff_agent(ctx: HandlerContext) -> bool:
    return ctx.is_agent and ctx.in_staff_chat


def _customer(ctx: HandlerContext) -> bool:
    return ctx.is_private and ctx.person is not None


def _staff_member(ctx: HandlerContext) -> bool:
    return ctx.in_staff_chat and ctx.person is not None


#: an agent (AGENT_IDS) in a private chat with the bot or in a staff chat (STAFF_CHAT_ID or a team's, TEAMS)
AGENT = Audience("agent", _agent)
#: an agent in the staff chat (replies to ticket messages there go to the customer)
STAFF_AGENT = Audience("agent in the staff chat", _staff_agent)
#: anyone in a private chat with the bot (agents too: they can file a request like anyone else)
CUSTOMER = Audience("customer", _customer)
#: anyone in the staff chat (a button there pressed by someone who is not an agent gets a clear "no")
STAFF_MEMBER = Audience("anyone in the staff chat", _staff_member)

"""Who may use a route: checked by the dispatch on every update, from AGENT_IDS and the chat it came from.

An agent is someone in AGENT_IDS; where they may act is the chat: a private chat with the bot, the staff
chat, or a team's chat (TEAMS). Which tickets they may act on there is the domain's rule
(`helpdesk.teams.acting_refusal`), checked by the handlers once the ticket is known.

Button data and commands can be typed or forged by anyone, so the check never trusts the update's
content, only who sent it and where. Anonymous admins and channels have no sender and match no audience.

A command no audience admits is a plain message for that caller; a button no audience admits is answered
on the button only (nothing posted, nothing created): with the audience's `refusal` when the caller is
who it names (a non-agent pressing an agent's button: "only support agents"), else "out of date" (a
customer's button pressed in a group, a forged or old one).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bot.handlers.context import HandlerContext


@dataclass(frozen=True)
class Audience:
    name: str
    admits: Callable[[HandlerContext], bool]
    #: (who is refused, the text key they are told) when they press one of its buttons
    refusal: tuple[Callable[[HandlerContext], bool], str] | None = None

    def __str__(self) -> str:
        return self.name


# The checks are functions, not lambdas, so that the mutation test (scripts/mutation) reaches them.


def _agent(ctx: HandlerContext) -> bool:
    return ctx.is_agent and (ctx.is_private or ctx.in_staff_chat)


def _staff_agent(ctx: HandlerContext) -> bool:
    return ctx.is_agent and ctx.in_staff_chat


def _customer(ctx: HandlerContext) -> bool:
    return ctx.is_private and ctx.person is not None


def _not_an_agent(ctx: HandlerContext) -> bool:
    return ctx.person is not None and not ctx.is_agent


#: an agent (AGENT_IDS) in a private chat with the bot or in a staff chat (STAFF_CHAT_ID or a team's, TEAMS)
AGENT = Audience("agent", _agent, refusal=(_not_an_agent, "agents.conv.agents_only"))
#: an agent in the staff chat (replies to ticket messages there go to the customer)
STAFF_AGENT = Audience("agent in the staff chat", _staff_agent)
#: anyone in a private chat with the bot (agents too: they can file a request like anyone else)
CUSTOMER = Audience("customer", _customer)

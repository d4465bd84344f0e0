"""Agent commands declared by what they take, so each command handler is a few lines.

    @ticket_command("agents.usage.reply", TEXT)
    async def reply(call: AgentCall, ticket: Ticket, text: str) -> Notice: ...

reads `/reply N text`: the agent is remembered (for /assign @username), the arguments are split, a
missing one answers the usage text, an unreadable one (a state, a category…) its own refusal, an unknown
number "there is no ticket N"; then the operation runs on the ticket (locked) and its `Notice`, or the
`Refusal` it raised, is the answer. Who may call it is the route's audience (bot/handlers/routes.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from bot import arguments
from bot.handlers.context import HandlerContext
from bot.handlers.replies import answer_agent
from bot.handlers.routing import MessageHandler
from bot.handlers.update import Message
from helpdesk import escalation, people, tickets
from helpdesk.agent_actions import Notice, Refusal
from helpdesk.i18n import pick_language, t
from helpdesk.numbering import number_with_more
from helpdesk.outbox import Buttons
from helpdesk.people import Actor
from helpdesk.teams import Team
from storage import repos
from storage.models import Ticket


@dataclass
class AgentCall:
    """An agent's command or button: who acts, in what language, and where to answer."""

    ctx: HandlerContext
    actor: Actor
    lang: str
    message: Message | None = None
    team: Team | None = None  # the team whose chat this is; None: the general staff chat or a private chat

    @classmethod
    async def begin(cls, ctx: HandlerContext, message: Message | None = None) -> AgentCall:
        """Who acts (remembered in the agents table, for /assign @username) and the language to answer in."""
        person = ctx.person
        if person is None:  # pragma: no cover - the audience admits agents only
            raise RuntimeError("no agent")
        team = ctx.team
        await people.remember_agent(ctx.session, person, team.name if team is not None else None)
        actor = Actor(person.user_id, person.display_name, person.username)
        return cls(ctx, actor, await agent_lang(ctx), message, team)

    @property
    def session(self) -> Any:
        return self.ctx.session

    @property
    def policy(self) -> Any:
        return self.ctx.policy

    def answer(self, text: str, *, buttons: Buttons | None = None) -> None:
        if self.message is None:
            self.ctx.reply(text, buttons=buttons)
        else:
            answer_agent(self.ctx, self.message, text, buttons=buttons)

    def refuse(self, key: str, outcome: str = "refused", **values: Any) -> None:
        self.answer(t(self.lang, key, **values))
        self.ctx.outcome = outcome


async def agent_lang(ctx: HandlerContext) -> str:
    """The agent's own language in a private chat; the desk's language in the staff chat."""
    if not ctx.is_private or ctx.person is None:
        return ctx.policy.default_language
    customer = await repos.customer_by_telegram_id(ctx.session, ctx.person.user_id)
    return pick_language(
        customer.language if customer else None,
        customer.telegram_language if customer else None,
        ctx.person.language_code,
        default=ctx.policy.default_language,
    )


@dataclass(frozen=True)
class Arg:
    """An argument after the ticket number: how it reads, and the refusal when it does not (`read` → None)."""

    read: Callable[[AgentCall, str], Awaitable[Any]]
    required: bool = True
    refusal: str = ""
    shown_as: str = ""  # the refusal's placeholder for what the agent typed


async def _words(_call: AgentCall, text: str) -> str:
    return text


async def _state(_call: AgentCall, text: str) -> Any:
    return arguments.parse_state(text)


async def _category(_call: AgentCall, text: str) -> Any:
    return arguments.parse_category(text)


async def _priority(_call: AgentCall, text: str) -> Any:
    return arguments.parse_priority(text)


async def _agent(call: AgentCall, text: str) -> Actor | None:
    return await people.find_agent(call.session, call.policy, text.split()[0])


#: the rest of the line, required (a reply, a question)
TEXT = Arg(_words)
#: the rest of the line, possibly empty (a note, a closing report the domain then judges)
OPTIONAL_TEXT = Arg(_words, required=False)
STATE = Arg(_state, refusal="agents.error.bad_state", shown_as="state")
CATEGORY = Arg(_category, refusal="agents.error.bad_category", shown_as="category")
PRIORITY = Arg(_priority, refusal="agents.error.bad_priority")
AGENT_REF = Arg(_agent, refusal="agents.error.unknown_agent", shown_as="agent")


def split_args(message: Message, parts: int) -> list[str]:
    """`N rest of the text` → [N, rest]; fewer items when something is missing."""
    args = (message.command.args if message.command else "").strip()
    return args.split(maxsplit=parts - 1) if args else []


Operation = Callable[..., Awaitable[Notice | None]]


def ticket_command(usage: str, *takes: Arg, acts: bool = True) -> Callable[[Operation], MessageHandler]:
    """A command `/name N [args…]` whose operation gets (call, ticket, *args) and returns what to say;
    `acts=False`: it only looks, so it works on any team's ticket from anywhere."""

    def wrap(operation: Operation) -> MessageHandler:
        async def handle(ctx: HandlerContext, message: Message) -> None:
            call = await AgentCall.begin(ctx, message)
            await run_on_ticket(call, split_args(message, 1 + len(takes)), usage, takes, operation, acts=acts)

        handle.__name__ = handle.__qualname__ = operation.__name__
        handle.__doc__ = operation.__doc__
        return handle

    return wrap


async def run_on_ticket(
    call: AgentCall, raw: list[str], usage: str, takes: tuple[Arg, ...], operation: Operation, *, acts: bool = True
) -> None:
    """Usage, arguments, lookup, who may act from here (`acts`), operation, answer: the sequence every ticket
    command shares."""
    if len(raw) < 1 + sum(arg.required for arg in takes) or (not takes and number_with_more(raw[0])):
        call.answer(t(call.lang, usage))  # "/close N fixed it": the usage, not "there is no ticket N fixed it"
        return
    values = []
    for arg, text in zip(takes, [*raw[1:], *[None] * len(takes)], strict=False):
        if text is None:
            values.append(None)
            continue
        value = await arg.read(call, text)
        if value is None:
            call.refuse(arg.refusal, **({arg.shown_as: text[:40]} if arg.shown_as else {}))
            return
        values.append(value)
    ticket: Ticket | None = await tickets.find_by_number(call.session, raw[0], lock=True)
    if ticket is None:
        call.refuse("agents.error.not_found", outcome="not_found", number=raw[0][:40])
        return
    try:
        if acts:
            escalation.check_acting(ticket, call.team, call.policy)
        notice = await operation(call, ticket, *values)
    except Refusal as exc:
        call.answer(exc.text(call.lang))
        call.ctx.outcome = "refused"
        return
    if notice is not None:
        call.answer(notice.text(call.lang))


def agent_command(operation: Callable[[AgentCall], Awaitable[None]]) -> MessageHandler:
    """A command without a ticket (/queue, /stats): the operation answers through `call`."""

    async def handle(ctx: HandlerContext, message: Message) -> None:
        await operation(await AgentCall.begin(ctx, message))

    handle.__name__ = handle.__qualname__ = operation.__name__
    handle.__doc__ = operation.__doc__
    return handle

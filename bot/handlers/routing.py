"""How an update finds its handler: route kinds, and the dispatch that checks the caller on every update.

The routes themselves are declared in one place, `bot/handlers/routes.py`. For each update the first
route whose kind and name (command, button prefix) match and whose audience admits the caller handles
it. A command no route admits is, for that caller, just a message (the unknown-command answer in a
private chat, silence in a group). A button no route admits, or with data that does not parse, is
answered "outdated". Everything else is ignored (outcome "ignored").
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from bot.handlers.audience import Audience
from bot.handlers.context import HandlerContext
from bot.handlers.update import ButtonPress, MemberChange, Message, Update
from helpdesk import callbacks
from helpdesk.callbacks import Callback
from helpdesk.i18n import t

MessageHandler = Callable[[HandlerContext, Message], Awaitable[None]]
ButtonHandler = Callable[[HandlerContext, ButtonPress, Callback], Awaitable[None]]
MemberHandler = Callable[[HandlerContext, MemberChange], Awaitable[None]]
#: looks at every message and edit before the routes; True when it dealt with it (flood control holds it)
MessageGate = Callable[[HandlerContext, Message], Awaitable[bool]]
#: looks at every button press before the routes; True when it dealt with it (flood control refuses it)
PressGate = Callable[[HandlerContext, ButtonPress], Awaitable[bool]]


@dataclass(frozen=True)
class OnCommand:
    """`/name …` typed by the audience."""

    name: str
    handler: MessageHandler
    audience: Audience


@dataclass(frozen=True)
class OnButton:
    """A press on a button whose data starts with `prefix` (helpdesk.callbacks)."""

    prefix: str
    handler: ButtonHandler
    audience: Audience


@dataclass(frozen=True)
class OnMessage:
    """Any other message from the audience that `when` accepts."""

    what: str
    handler: MessageHandler
    audience: Audience
    when: Callable[[Message], bool] = lambda message: True


@dataclass(frozen=True)
class OnEdit:
    what: str
    handler: MessageHandler
    audience: Audience


@dataclass(frozen=True)
class OnMemberChange:
    what: str
    handler: MemberHandler
    audience: Audience


Route = OnCommand | OnButton | OnMessage | OnEdit | OnMemberChange


class Dispatch:
    """Hands each update to the first route that matches it and admits its sender."""

    def __init__(
        self,
        routes: Iterable[Route],
        *,
        bot_username: str | None = None,
        gate: MessageGate | None = None,
        press_gate: PressGate | None = None,
    ) -> None:
        self.routes = tuple(routes)
        self.gate = gate
        self.press_gate = press_gate
        self.bot_username = (bot_username or "").casefold() or None
        self._commands: dict[str, list[OnCommand]] = {}
        self._buttons: dict[str, list[OnButton]] = {}
        for route in self.routes:
            if isinstance(route, OnCommand):
                self._commands.setdefault(route.name.casefold(), []).append(route)
            elif isinstance(route, OnButton):
                self._buttons.setdefault(route.prefix, []).append(route)
        self._messages = [r for r in self.routes if isinstance(r, OnMessage)]
        self._edits = [r for r in self.routes if isinstance(r, OnEdit)]
        self._members = [r for r in self.routes if isinstance(r, OnMemberChange)]

    async def __call__(self, update: Update, ctx: HandlerContext) -> bool:
        """Handle the update; False when no route wanted it (ctx.outcome is then "ignored")."""
        if update.message is not None:
            if update.kind == "edited_message":
                handled = await self._edit(update.message, ctx)
            else:
                handled = await self._message(update.message, ctx)
        elif update.press is not None:
            handled = await self._press(update.press, ctx)
        elif update.member is not None:
            handled = await self._member(update.member, ctx)
        else:
            handled = False
        if not handled and ctx.outcome == "handled":
            ctx.outcome = "ignored"
        return handled

    def addressed_to_us(self, message: Message) -> bool:
        """A command without @mention, or with ours (`/new@otherbot` in a group is another bot's)."""
        command = message.command
        if command is None:
            return False
        return command.mention is None or self.bot_username is None or command.mention.casefold() == self.bot_username

    async def _message(self, message: Message, ctx: HandlerContext) -> bool:
        if self.gate is not None and await self.gate(ctx, message):
            return True
        if message.command is not None and self.addressed_to_us(message):
            for route in self._commands.get(message.command.name.casefold(), ()):
                if route.audience.admits(ctx):
                    await route.handler(ctx, message)
                    return True
        for route in self._messages:
            if route.when(message) and route.audience.admits(ctx):
                await route.handler(ctx, message)
                return True
        return False

    async def _edit(self, message: Message, ctx: HandlerContext) -> bool:
        if self.gate is not None and await self.gate(ctx, message):
            return True
        for route in self._edits:
            if route.audience.admits(ctx):
                await route.handler(ctx, message)
                return True
        return False

    async def _press(self, press: ButtonPress, ctx: HandlerContext) -> bool:
        if self.press_gate is not None and await self.press_gate(ctx, press):
            return True
        parsed = callbacks.parse(press.data)
        routes = self._buttons.get(parsed.prefix, ()) if parsed is not None else ()
        for route in routes:
            if route.audience.admits(ctx):
                await route.handler(ctx, press, parsed)
                return True
        # not this caller's button, or old or forged data: answered on the button only, nothing posted,
        # nothing created; an agent's button pressed by anyone else says so (audience.refusal)
        for route in routes:
            refusal = route.audience.refusal
            if refusal is not None and refusal[0](ctx):
                ctx.answer_button(t(await ctx.lang(), refusal[1]), alert=True)
                ctx.outcome = "refused"
                return True
        ctx.answer_button(t(await ctx.lang(), "agents.conv.outdated"))
        ctx.outcome = "stale_button"
        return True

    async def _member(self, member: MemberChange, ctx: HandlerContext) -> bool:
        for route in self._members:
            if route.audience.admits(ctx):
                await route.handler(ctx, member)
                return True
        return False

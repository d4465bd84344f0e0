"""Flood control in a customer's private chat, before any route (helpdesk/flood.py has the rule): a message
(or an edit) beyond FLOOD_MESSAGES_PER_MINUTE is held, the first one of a flood answered with "please slow down"; one
under the limit first releases the digest of what was held. A button press beyond the limit of presses is
answered on the button only ("slow down"), nothing else done. Agents are never limited (`flood.applies_to`)."""

from __future__ import annotations

from bot.handlers.context import HandlerContext
from bot.handlers.inputs import content_of
from bot.handlers.update import ButtonPress, Message
from helpdesk import flood
from helpdesk.clock import now_utc


async def gate(ctx: HandlerContext, message: Message) -> bool:
    """True when the message was held: nothing else is done with it now."""
    kind = ctx.update.kind
    if kind not in ("message", "edited_message") or not ctx.is_private or ctx.person is None:
        return False
    if not flood.applies_to(ctx.policy, ctx.person.user_id):
        return False
    customer = await ctx.customer()
    content, edited = content_of(message), kind == "edited_message"
    verdict = await flood.hold_if_flooding(
        ctx.session, customer, ctx.update_id, content, ctx.policy, now_utc(), edited=edited
    )
    if not verdict.held:
        await flood.post_held(ctx.session, customer, ctx.policy)
        return False
    if verdict.first:
        ctx.reply(await flood.slow_down(ctx.session, customer, await ctx.lang()))
    ctx.outcome = "flood_held"
    return True


async def press_gate(ctx: HandlerContext, press: ButtonPress) -> bool:
    """True when the press was refused: its button is answered with a short note, nothing is sent."""
    if not ctx.is_private or ctx.person is None or not flood.applies_to(ctx.policy, ctx.person.user_id):
        return False
    if not await flood.press_refused(ctx.session, ctx.update_id, ctx.policy):
        return False
    ctx.answer_button(flood.press_slow_down(await ctx.lang()))
    ctx.outcome = "flood_refused"
    return True

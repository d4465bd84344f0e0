"""Major incidents from the agents' side: /major, /link, /unlink, /outage, and the proposal's buttons
("Merge into a major incident" / "Not related") in the staff chat. Each is the domain call it stands for
(helpdesk/major_incidents/); the rules and their refusals live there."""

from __future__ import annotations

from bot.handlers.agent_command import TEXT, AgentCall, agent_command, split_args, ticket_command
from bot.handlers.context import HandlerContext
from bot.handlers.update import ButtonPress
from helpdesk import outbox
from helpdesk.agent_actions import Notice, Refusal
from helpdesk.callbacks import Callback
from helpdesk.i18n import t, to_plain
from helpdesk.major_incidents import declared, linking, proposals
from storage.models import Ticket


@ticket_command("major.usage.major")
async def make_major(call: AgentCall, ticket: Ticket) -> Notice:
    """`/major N`: the incident becomes a major incident (the parent)."""
    return await linking.make_major(call.session, ticket, call.actor, call.policy)


@ticket_command("major.usage.link", TEXT)
async def link(call: AgentCall, ticket: Ticket, parent_number: str) -> Notice:
    """`/link N PARENT`: N follows PARENT, its customer hears PARENT's updates."""
    words = parent_number.split()
    if len(words) != 1:
        raise Refusal("major.usage.link")
    return await linking.link_to(call.session, ticket, words[0], call.actor, call.policy)


@ticket_command("major.usage.unlink")
async def unlink(call: AgentCall, ticket: Ticket) -> Notice:
    """`/unlink N`: N is on its own again."""
    return await linking.unlink(call.session, ticket, call.actor, call.policy)


@agent_command
async def outage(call: AgentCall) -> None:
    """`/outage SERVICE text` declares (or updates) an outage; `/outage off SERVICE` ends it; `/outage` lists."""
    assert call.message is not None
    words = split_args(call.message, 2)
    try:
        if not words:
            call.answer(await declared.listing(call.session, call.lang))
            return
        if words[0].casefold() in declared.OFF_WORDS:
            if len(words) < 2:
                raise Refusal("major.usage.outage")
            notice = await declared.end(call.session, words[1].split()[0], call.actor, call.policy)
        else:
            text = words[1] if len(words) > 1 else ""
            notice = await declared.declare(call.session, words[0], text, call.actor, call.policy)
    except Refusal as exc:
        call.refuse(exc.key, **exc.values)
        return
    call.answer(notice.text(call.lang))


async def proposal_button(ctx: HandlerContext, press: ButtonPress, button: Callback) -> None:
    """`mj:<m|n>:<proposal>` on the proposal: merge, or not related; a second press changes nothing."""
    call = await AgentCall.begin(ctx)
    action = button.args[0] if button.args else ""
    proposal_id = button.int_arg(1)
    if action not in (proposals.MERGE, proposals.NOT_RELATED) or proposal_id is None:
        ctx.answer_button(t(call.lang, "agents.conv.outdated"))
        ctx.outcome = "stale_button"
        return
    decide = proposals.merge if action == proposals.MERGE else proposals.reject
    try:
        decision = await decide(ctx.session, proposal_id, call.actor, ctx.policy)
    except Refusal as exc:
        ctx.answer_button(to_plain(exc.text(call.lang))[:200], alert=True)
        ctx.outcome = "refused"
        return
    if press.chat_id is not None and press.message_id is not None:
        outbox.edit_text(ctx.session, press.chat_id, press.message_id, decision.text, buttons=[])
    ctx.answer_button(to_plain(decision.notice.text(call.lang))[:200])

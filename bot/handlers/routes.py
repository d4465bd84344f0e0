"""The shape of the bot at a glance: every command, button and message, what handles it, who may use it.

Read top to bottom: for each update the first route that matches and admits the caller handles it
(`bot/handlers/routing.py`). Agents come first: their routes admit agents only (AGENT_IDS, in a private
chat with the bot or in the staff chat), so anyone else falls through, in a private chat to the
customer's routes (the unknown-command answer, or their own /status), in a group to silence. A button
no route admits is answered on the button only, nothing posted: an agent's pressed by anyone else "only
support agents", any other "out of date" (customers' buttons work in private chats only).
"""

from __future__ import annotations

from bot.handlers import (
    agents,
    closing_causes,
    customer,
    flood_gate,
    intake,
    major_commands,
    reply_edits,
    report_commands,
    self_help_commands,
    staff,
    survey,
    team_commands,
    ticket_messages,
)
from bot.handlers.audience import AGENT, CUSTOMER, STAFF_AGENT
from bot.handlers.routing import Dispatch, OnButton, OnCommand, OnEdit, OnMemberChange, OnMessage, Route
from helpdesk import callbacks

ROUTES: tuple[Route, ...] = (
    # -- agents --------------------------------------------------------------------------------------
    OnCommand("queue", agents.queue, AGENT),
    OnCommand("ticket", agents.ticket, AGENT),
    OnCommand("stats", report_commands.stats, AGENT),
    OnCommand("export", report_commands.export, AGENT),
    OnCommand("take", agents.take, AGENT),
    OnCommand("assign", agents.assign, AGENT),
    OnCommand("reply", agents.reply, AGENT),
    OnCommand("canned", agents.canned, AGENT),
    OnCommand("open", agents.open_, AGENT),
    OnCommand("ask", agents.ask, AGENT),
    OnCommand("status", agents.status, AGENT),
    OnCommand("resolve", agents.resolve, AGENT),
    OnCommand("close", agents.close, AGENT),
    OnCommand("reopen", agents.reopen, AGENT),
    OnCommand("retype", agents.retype, AGENT),
    OnCommand("priority", agents.priority, AGENT),
    OnCommand("major", major_commands.make_major, AGENT),
    OnCommand("link", major_commands.link, AGENT),
    OnCommand("unlink", major_commands.unlink, AGENT),
    OnCommand("outage", major_commands.outage, AGENT),
    OnCommand("kb", self_help_commands.kb, AGENT),
    OnCommand("escalate", team_commands.escalate, AGENT),
    OnCommand("help", customer.staff_help, STAFF_AGENT),
    OnMessage("a message in a ticket's forum topic", staff.topic_message, STAFF_AGENT, when=staff.in_topic),
    OnMessage("a reply to a ticket's message", staff.reply_to_ticket, STAFF_AGENT, when=staff.is_reply),
    OnEdit("an agent's edited message (a reply: the correction to the customer)", reply_edits.edited, AGENT),
    OnButton(callbacks.AGENT, staff.card_button, AGENT),
    OnButton(callbacks.MAJOR, major_commands.proposal_button, AGENT),
    OnButton(callbacks.CAUSE, closing_causes.cause_button, AGENT),
    # -- customers (anyone in a private chat) ----------------------------------------------------------
    OnCommand("start", customer.start, CUSTOMER),
    OnCommand("help", customer.help_, CUSTOMER),
    OnCommand("lang", customer.lang, CUSTOMER),
    OnCommand("new", intake.new, CUSTOMER),
    OnCommand("cancel", intake.cancel, CUSTOMER),
    OnCommand("my", customer.my, CUSTOMER),
    OnCommand("status", customer.status, CUSTOMER),
    OnMessage("an unknown command", customer.unknown_command, CUSTOMER, when=customer.is_slash_text),
    OnMessage("anything else", customer.free_message, CUSTOMER),
    OnEdit("an edited message", ticket_messages.edited, CUSTOMER),
    OnButton(callbacks.INTAKE, intake.button, CUSTOMER),
    OnButton(callbacks.MENU, customer.menu_button, CUSTOMER),
    OnButton(callbacks.LANG, customer.lang_button, CUSTOMER),
    OnButton(callbacks.STATUS, customer.status_button, CUSTOMER),
    OnButton(callbacks.FOR_TICKET, ticket_messages.for_ticket, CUSTOMER),
    OnButton(callbacks.ANSWER, ticket_messages.answer_button, CUSTOMER),
    OnButton(callbacks.FIXED, ticket_messages.fixed, CUSTOMER),
    OnButton(callbacks.RATE, survey.rating, CUSTOMER),
    OnMemberChange("the bot blocked or unblocked", customer.blocked_or_unblocked, CUSTOMER),
)


def build_dispatch(bot_username: str | None = None) -> Dispatch:
    """The dispatch over ROUTES; `bot_username` tells our `/cmd@mention` from other bots' in groups. Every
    new message and button press in a customer's private chat passes flood control first
    (`bot/handlers/flood_gate.py`)."""
    return Dispatch(ROUTES, bot_username=bot_username, gate=flood_gate.gate, press_gate=flood_gate.press_gate)

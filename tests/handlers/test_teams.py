"""Teams in-process, on both runtimes and both databases: new tickets' cards in the chat of the team that
owns their category (else the staff chat), the team on the card, and agents recognised in team chats."""

from __future__ import annotations

import json
from typing import Any

from sqlmodel import select

from helpdesk.policy import DeskPolicy
from storage.models import Agent, Ticket
from tests.handlers.harness import AGENTS, STAFF, Desk, Sent
from tests.handlers.test_customers import register

NETWORK_CHAT = -100200
FACILITY_CHAT = -100300
FACILITY_TOPIC = 42
TEAMS = {
    "network": {"chat": NETWORK_CHAT, "categories": ["network", "security"]},
    "facility": {"chat": FACILITY_CHAT, "topic": FACILITY_TOPIC, "categories": ["facility", "power"]},
}
OUTAGE = "The internet is down in the whole office, nothing loads"
PRINTER = "The printer on floor 2 is jammed"
HEAT = "The air conditioning in room 5 is broken and it is very hot"


def with_teams(desk: Desk, **settings: Any) -> Desk:
    """The desk restarted with TEAMS set (and any other settings given)."""
    desk.policy = DeskPolicy(agent_ids=frozenset(AGENTS), staff_chat_id=STAFF, teams=json.dumps(TEAMS), **settings)
    desk.restart()
    return desk


def card_in(desk: Desk, chat_id: int, number: str) -> Sent:
    """The ticket's live card in a chat (with its buttons)."""
    for message in desk.telegram.chat(chat_id).from_bot:
        if number in message.text and "📄 Details" in message.buttons:
            return message
    raise AssertionError(f"no card for {number} in chat {chat_id}: {desk.telegram.chat(chat_id).texts()[-5:]}")


async def ticket_row(desk: Desk, number: str) -> Ticket:
    async with desk.db.read() as session:
        return (await session.exec(select(Ticket).where(Ticket.number == number))).one()


async def test_new_tickets_go_to_the_team_that_owns_their_category(any_desk: Desk) -> None:
    desk = with_teams(any_desk)
    ann, bob, cat = desk.person(501, "Ann"), desk.person(502, "Bob"), desk.person(503, "Cat")
    outage = await register(ann, OUTAGE)
    printer = await register(bob, PRINTER)
    heat = await register(cat, HEAT)

    card = card_in(desk, NETWORK_CHAT, outage)
    assert "Team: network" in card.text and "🙋 Take" in card.buttons
    assert not any(outage in text for text in desk.staff.texts())  # not in the general staff chat
    assert "Team:" not in desk.card(printer).text  # no team owns hardware: the staff chat, as without TEAMS
    facility = card_in(desk, FACILITY_CHAT, heat)
    assert facility.thread_id == FACILITY_TOPIC and "Team: facility" in facility.text
    assert (await ticket_row(desk, outage)).team == "network"
    assert (await ticket_row(desk, printer)).team is None

    # an agent in the team's chat works the card there; the customer's answers come back under it
    agent = desk.agent()
    await agent.press(card, "🙋 Take")
    assert "Agent1" in card.text and "Agent1" in ann.last.text
    await agent.reply(card, "We are restarting the router, give us five minutes.")
    assert "restarting the router" in ann.last.text
    await ann.reply(ann.last, "It works again, thanks")
    relay = desk.telegram.chat(NETWORK_CHAT).find("It works again")
    assert relay.reply_to == card.message_id
    async with desk.db.read() as session:
        seen = await session.get(Agent, AGENTS[0])
    assert seen is not None and seen.teams == ["network"]


async def test_a_team_chat_is_a_staff_chat_for_agents_only(desk: Desk) -> None:
    with_teams(desk)
    ann, eve = desk.person(501, "Ann"), desk.person(666, "Eve")
    outage = await register(ann, OUTAGE)
    card = card_in(desk, NETWORK_CHAT, outage)
    team_chat = desk.telegram.chat(NETWORK_CHAT)
    before = len(team_chat.from_bot)
    await eve.send_in(NETWORK_CHAT, f"/take {outage}")
    await eve.reply(card, "Eve writes to the customer")
    answer = await eve.press(card, "🙋 Take")
    assert "out of date" in answer["text"]
    assert len(team_chat.from_bot) == before and "🙋 Take" in card.buttons
    assert not any("Eve" in text for text in ann.chat.texts())
    agent = desk.agent()
    await agent.send_in(NETWORK_CHAT, f"/ticket {outage}")
    assert "History" in team_chat.last.text and team_chat.last.reply_to is not None


async def test_without_teams_every_card_is_in_the_staff_chat(desk: Desk) -> None:
    ann = desk.person(501, "Ann")
    outage = await register(ann, OUTAGE)
    assert "Team:" not in desk.card(outage).text
    assert (await ticket_row(desk, outage)).team is None

"""Teams in-process, on both runtimes and both databases: new tickets' cards in the chat of the team that
owns their category (else the staff chat), the team on the card, and agents recognised in team chats."""

from __future__ import annotations

import json
from pathlib import Path
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
KB_SAMPLE = Path(__file__).resolve().parents[2] / "docs" / "kb-sample"
#: every command that acts on a ticket, with a valid rest of the line
ACTING = {"take": "", "assign": "7002", "reply": "hi", "ask": "why?", "status": "resolved", "resolve": "technical: x",
          "close": "", "reopen": "", "retype": "software", "priority": "P1", "kb": "office-wifi",
          "escalate": "facility", "major": "", "unlink": "", "link": "INC-000001"}  # fmt: skip


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
    assert answer["text"] == "Only support agents can do this."
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


MANAGER = 9001
ESCALATIONS = -100900


async def test_escalate_moves_the_card_to_another_team_and_tells_the_customer(any_desk: Desk) -> None:
    desk = with_teams(any_desk)
    ann = desk.person(501, "Ann", lang="ru")
    agent = desk.agent()
    number = await register(ann, OUTAGE)
    old = card_in(desk, NETWORK_CHAT, number)
    await agent.press(old, "🙋 Take")
    await agent.send_in(NETWORK_CHAT, f"/escalate {number} facility the switch room has no power")
    network = desk.telegram.chat(NETWORK_CHAT)
    assert "moved to team facility" in network.find(number).text
    assert "Moved to team facility" in old.text and old.buttons == []  # the old card: marked, no buttons
    new = card_in(desk, FACILITY_CHAT, number)
    assert new.thread_id == FACILITY_TOPIC and "Team: facility" in new.text and "🙋 Take" in new.buttons
    note = desk.telegram.chat(FACILITY_CHAT).find("was moved here")
    assert "from network by Agent1" in note.text and "no power" in note.text and note.reply_to == new.message_id
    assert "facility" in ann.last.text and "передана нашим специалистам" in ann.last.text  # her language
    row = await ticket_row(desk, number)
    assert row.team == "facility" and row.assignee_id is None and row.staff_chat_id == FACILITY_CHAT

    # the facility team works it; a reply to the old card in the network chat is refused politely
    await agent.reply(new, "Power is back in the switch room")
    assert "Power is back" in ann.last.text
    await ann.reply(ann.last, "Интернет снова работает")  # her answer reaches the new card, in the new chat
    relay = desk.telegram.chat(FACILITY_CHAT).find("Интернет снова работает")
    assert relay.reply_to == new.message_id
    before = ann.chat.texts()
    await agent.reply(old, "This goes nowhere")
    assert "belongs to team facility" in network.last.text
    assert ann.chat.texts() == before
    await agent.send(f"/ticket {number}")
    assert "escalated" in agent.chat.find("History").text


async def test_escalate_general_sends_a_misrouted_ticket_back_to_the_staff_chat(desk: Desk) -> None:
    with_teams(desk)
    ann = desk.person(501, "Ann")
    agent = desk.agent()
    number = await register(ann, OUTAGE)
    old = card_in(desk, NETWORK_CHAT, number)
    await agent.send_in(NETWORK_CHAT, f"/escalate {number} general not a network problem, the laptop is broken")
    assert "Moved to" in old.text and old.buttons == []
    card = desk.card(number)
    assert "Team:" not in card.text and "🙋 Take" in card.buttons
    note = desk.staff.find("was moved here")
    assert "from network by Agent1" in note.text and "laptop is broken" in note.text
    assert "passed back to our service desk" in ann.last.text
    assert (await ticket_row(desk, number)).team is None
    await agent.send_in(STAFF, f"/escalate {number} general")
    assert "already with team general desk" in desk.staff.last.text


async def test_escalation_answers_a_russian_agent_wholly_in_russian(desk: Desk) -> None:
    """The general desk is named in the agent's language, not the desk's (a key of its own)."""
    with_teams(desk)
    number = await register(desk.person(501, "Ann"), OUTAGE)
    agent = desk.person(AGENTS[1], "Агент", lang="ru")
    await agent.send(f"/escalate {number} general")
    assert "возвращена на общую линию" in agent.last.text and "general desk" not in agent.last.text
    await agent.send(f"/escalate {number} general")
    assert f"{number} уже на общей линии" in agent.last.text


async def test_escalation_refusals_change_nothing(desk: Desk) -> None:
    with_teams(desk)
    ann = desk.person(501, "Ann")
    agent = desk.agent()
    number = await register(ann, OUTAGE)
    card = card_in(desk, NETWORK_CHAT, number)
    customer_before = ann.chat.texts()
    for command, reason in (
        (f"/escalate {number} gardening", "no team gardening. Escalate to one of: network, facility, general, manager"),
        (f"/escalate {number} network", "is already with team network"),
        (f"/escalate {number} manager", "No managers are configured"),
        (f"/escalate {number}", "Usage: /escalate N TEAM [note]"),
        ("/escalate INC-424242 facility", "There is no ticket INC-424242"),
    ):
        await agent.send(command)
        assert reason in agent.last.text, command
    await agent.send(f"/resolve {number} technical: the router was restarted and the line tested")
    await agent.send(f"/close {number}")
    await agent.send(f"/escalate {number} facility")
    assert "only an open ticket can be escalated" in agent.last.text
    assert "Team: network" in card.text and not desk.telegram.chat(FACILITY_CHAT).from_bot
    assert (await ticket_row(desk, number)).team == "network"
    assert not any("passed to our" in text for text in ann.chat.texts()[len(customer_before) :])


async def test_without_teams_escalating_to_a_team_says_there_are_none(desk: Desk) -> None:
    ann = desk.person(501, "Ann")
    agent = desk.agent()
    number = await register(ann, PRINTER)
    await agent.send(f"/escalate {number} network")
    assert "There are no teams" in agent.last.text


async def test_escalate_to_manager_reaches_managers_and_the_escalation_chat(any_desk: Desk) -> None:
    desk = with_teams(any_desk, manager_ids=f"{MANAGER}", escalation_chat_id=ESCALATIONS)
    ann = desk.person(501, "Ann")
    agent = desk.agent()
    number = await register(ann, PRINTER)
    await agent.send_in(STAFF, f"/escalate {number} manager customer is the CEO")
    private = desk.telegram.chat(MANAGER).last
    assert "Escalation by Agent1" in private.text and number in private.text and "CEO" in private.text
    assert "printer" in private.text.lower() and "general desk" in private.text
    assert number in desk.telegram.chat(ESCALATIONS).last.text
    assert "escalated to the managers" in desk.staff.find("escalated to the managers by").text
    assert "service desk management" in ann.last.text
    assert "2 recipients" in desk.staff.last.text


async def test_queue_shows_the_agents_teams_and_all_shows_everything(any_desk: Desk) -> None:
    desk = with_teams(any_desk)
    ann, bob, cat = desk.person(501, "Ann"), desk.person(502, "Bob"), desk.person(503, "Cat")
    outage, printer, heat = await register(ann, OUTAGE), await register(bob, PRINTER), await register(cat, HEAT)
    agent, other = desk.agent(AGENTS[0]), desk.agent(AGENTS[1])
    network = desk.telegram.chat(NETWORK_CHAT)

    await agent.send_in(NETWORK_CHAT, "/queue")
    assert outage in network.last.text and printer not in network.last.text and heat not in network.last.text
    await agent.send("/queue")  # privately: the teams they work in (network, noted above)
    assert "network" in agent.last.text and outage in agent.last.text and printer not in agent.last.text
    await agent.send_in(STAFF, "/queue")  # the general staff chat: the general desk's
    assert printer in desk.staff.last.text and outage not in desk.staff.last.text
    await other.send("/queue")  # works in no team's chat: the general desk's
    assert "general desk" in other.last.text and printer in other.last.text and heat not in other.last.text
    await other.send("/queue all")
    assert all(n in other.last.text for n in (outage, printer, heat)) and "/queue all" not in other.last.text
    await other.send("/queue  ALL ")  # the shared argument reading: case and spaces forgiven
    assert all(n in other.last.text for n in (outage, printer, heat))
    await other.send("/queue all of them")  # not the word `all`: the general desk's, as before
    assert "general desk" in other.last.text and heat not in other.last.text


async def test_a_manager_who_never_pressed_start_is_reported_to_the_staff_once(desk: Desk) -> None:
    """Telegram answers 403 to a bot writing first to a person: the staff chat hears of it once, in ru too."""
    with_teams(desk, manager_ids=f"{MANAGER}", escalation_chat_id=ESCALATIONS, default_language="ru")
    desk.telegram.refusing.add(MANAGER)
    agent = desk.agent()
    first, second = await register(desk.person(501, "Ann"), PRINTER), await register(desk.person(502, "Bob"), HEAT)
    for number in (first, second):
        await agent.send_in(STAFF, f"/escalate {number} manager")
        assert number in desk.telegram.chat(ESCALATIONS).last.text  # the escalation chat still hears
    told = [text for text in desk.staff.texts() if "не получает эскалации" in text]
    assert len(told) == 1 and f"id {MANAGER}" in told[0] and "«Запустить» (Start)" in told[0]
    assert not desk.telegram.chat(MANAGER).from_bot


async def test_a_manager_who_wrote_to_the_bot_and_then_blocked_it_is_reported_to_the_staff_once(desk: Desk) -> None:
    """A manager who once wrote to the bot has a customer row: their 403 was taken for a customer's (nothing
    to mark, no ticket) and the staff never heard that escalations do not reach them."""
    with_teams(desk, manager_ids=f"{MANAGER}", escalation_chat_id=ESCALATIONS)
    boss = desk.person(MANAGER, "Boss")
    await boss.send("/start")
    desk.telegram.refusing.add(MANAGER)  # then blocked the bot
    agent = desk.agent()
    first, second = await register(desk.person(501, "Ann"), PRINTER), await register(desk.person(502, "Bob"), HEAT)
    for number in (first, second):
        await agent.send_in(STAFF, f"/escalate {number} manager")
        assert number in desk.telegram.chat(ESCALATIONS).last.text  # the escalation chat still hears
    told = [text for text in desk.staff.texts() if "does not receive escalations" in text]
    assert len(told) == 1 and f"Manager Boss (id {MANAGER})" in told[0] and "Restart if they blocked it" in told[0]


async def test_agents_of_another_team_may_look_but_not_act(desk: Desk) -> None:
    """In the facility team's chat (its topic), a network ticket can be looked at; every acting command,
    card button and /kb, /escalate is refused politely and changes nothing. The general staff chat and a
    private chat act on any ticket."""
    with_teams(desk, kb_dir=str(KB_SAMPLE))
    ann = desk.person(501, "Ann")
    agent = desk.agent()
    number = await register(ann, OUTAGE)
    card = card_in(desk, NETWORK_CHAT, number)
    facility = desk.telegram.chat(FACILITY_CHAT)
    topic = await agent.write({"text": "hello", "message_thread_id": FACILITY_TOPIC, "is_topic_message": True},
                              chat=FACILITY_CHAT)  # fmt: skip
    customer_before = list(ann.chat.texts())
    for command in ACTING:
        await agent.write(
            {"text": f"/{command} {number} {ACTING[command]}".strip(), "message_thread_id": FACILITY_TOPIC,
             "is_topic_message": True}, chat=FACILITY_CHAT, reply_to=topic)  # fmt: skip
        assert f"{number} belongs to team network" in facility.last.text, command
    for action in ("take", "ask", "res"):
        answer = await agent.press_data(
            Sent(FACILITY_CHAT, card.message_id), card.data_of("🙋 Take").replace("take", action)
        )
        assert "belongs to team network" in answer["text"] and answer["show_alert"], action
    await agent.send_in(FACILITY_CHAT, f"/ticket {number}")
    assert "History" in facility.last.text
    assert ann.chat.texts() == customer_before and "🙋 Take" in card.buttons
    assert (await ticket_row(desk, number)).team == "network"

    printer = await register(desk.person(502, "Bob"), PRINTER)  # a general-desk ticket: not for a team chat
    await agent.send_in(NETWORK_CHAT, f"/take {printer}")
    assert f"{printer} belongs to the general desk" in desk.telegram.chat(NETWORK_CHAT).last.text
    assert "Agent1" not in desk.card(printer).text

    await agent.send_in(STAFF, f"/take {number}")  # the general staff chat acts on any ticket
    assert "You took" in desk.staff.last.text
    await agent.send(f"/kb {number} office-wifi")  # and so does a private chat
    assert "Connect to the office Wi-Fi" in ann.last.text


async def test_strangers_and_customers_cannot_escalate(desk: Desk) -> None:
    with_teams(desk, manager_ids=f"{MANAGER}")
    ann, eve = desk.person(501, "Ann"), desk.person(666, "Eve")
    number = await register(ann, OUTAGE)
    for who in (ann, eve):
        for command in (f"/escalate {number} facility", f"/escalate {number} manager", "/queue all"):
            await who.send(command)
            assert "I don't know that command" in who.last.text, command
    network_before = len(desk.telegram.chat(NETWORK_CHAT).from_bot)
    await eve.send_in(NETWORK_CHAT, f"/escalate {number} manager")
    await eve.send_in(STAFF, f"/escalate {number} facility")
    assert len(desk.telegram.chat(NETWORK_CHAT).from_bot) == network_before
    assert MANAGER not in desk.telegram.chats and (await ticket_row(desk, number)).team == "network"


async def test_help_shows_teams_to_agents_only(desk: Desk) -> None:
    with_teams(desk)
    agent, ann = desk.agent(), desk.person(501, "Ann")
    await agent.send("/help")
    assert "/escalate N TEAM" in agent.last.text and "/queue all" in agent.last.text
    await ann.send("/help")
    assert "/escalate" not in ann.last.text

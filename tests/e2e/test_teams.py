"""Teams through the Bot API stand-in: the real bot process with TEAMS, MANAGER_IDS and ESCALATION_CHAT_ID.

A network ticket's card appears in the network team's chat (not the staff chat); `/escalate N facility`
moves it to the facility team's chat (the old card marked moved, without buttons; the customer told in
her language); `/escalate N manager` reaches the manager privately and the escalation chat, and the
customer is told; another team's agents are refused politely. A bot started with a malformed TEAMS
exits with code 2 and one `error:` line naming TEAMS, having asked Telegram for nothing.
"""

from __future__ import annotations

import json

import pytest

from tests.e2e.test_agents import FAST, card_of
from tests.e2e.test_self_help import finish

pytestmark = pytest.mark.e2e

NETWORK_CHAT = -100200
FACILITY_CHAT = -100300
ESCALATIONS = -100900
MANAGER = 9001
TEAMS = {
    "network": {"chat": NETWORK_CHAT, "categories": ["network", "security"]},
    "facility": {"chat": FACILITY_CHAT, "categories": ["facility", "power"]},
}


async def test_team_routing_escalation_to_a_team_and_to_the_manager(bot_api, bot_factory) -> None:
    network = bot_api.add_group(NETWORK_CHAT, "Network team", admins=bot_factory.agent_ids)
    facility = bot_api.add_group(FACILITY_CHAT, "Facility team", admins=bot_factory.agent_ids)
    escalations = bot_api.add_group(ESCALATIONS, "Escalations")
    manager = bot_api.user(MANAGER, "Maria", language_code="ru", started=True)
    env = {**FAST, "TEAMS": json.dumps(TEAMS), "MANAGER_IDS": str(MANAGER), "ESCALATION_CHAT_ID": str(ESCALATIONS)}
    await bot_factory.start(env=env)
    agent = bot_api.user(7001)
    await manager.send("/start")  # the manager has talked to the bot: escalations come in her language
    await manager.next_message(timeout=15)
    vera = bot_api.user(501, "Вера", language_code="ru")

    # a network ticket: its card in the network team's chat, marked with the team
    await vera.send("Нет интернета во всем офисе, ничего не открывается")
    number = await finish(vera, await vera.next_message(timeout=30))
    card = await card_of(network, number)
    assert "Команда: network" in card.text or "Team: network" in card.text
    assert "🙋 Take" in card.buttons or "🙋 Взять" in card.buttons

    # the facility team's agent cannot act on it from the facility chat; looking is fine
    await agent.send_in(FACILITY_CHAT, f"/take {number}")
    refused = await facility.wait_for("belongs to team network", timeout=15)
    assert number in refused.text

    # functional escalation from the network chat to the facility team
    await agent.send_in(NETWORK_CHAT, f"/escalate {number} facility the switch room has no power")
    await network.wait_for("moved to team facility", timeout=15)
    await network.wait_edit(card, "Moved to team facility", predicate=lambda m: not m.buttons, timeout=15)
    moved = await card_of(facility, number)
    assert "Team: facility" in moved.text
    note = await facility.wait_for("was moved here", timeout=15)
    assert "no power" in note.text and note.reply_to == moved.id
    told = await vera.wait_for("передана нашим специалистам", timeout=15)
    assert number in told.text and "facility" in told.text

    # hierarchical escalation: the manager privately, the escalation chat, the customer
    await agent.send_in(FACILITY_CHAT, f"/escalate {number} manager the whole office is offline")
    private = await manager.wait_for(number, timeout=15)
    assert "Эскалация" in private.text and "the whole office is offline" in private.text
    posted = await escalations.wait_for(number, timeout=15)
    assert "Escalation by Agent1" in posted.text
    await vera.wait_for("на контроль руководству", timeout=15)
    done = await facility.wait_for("escalated to the managers (2 recipients)", timeout=15)
    assert number in done.text
    assert not any(number in (m.text or "") for m in bot_factory.staff.messages)  # never in the general staff chat


async def test_a_malformed_teams_stops_the_bot_with_one_error_line(bot_api, bot_factory) -> None:
    bot = bot_factory(env={**FAST, "TEAMS": '{"network": {"chat": -100200, "categories": ["wifi"]}}'})
    bot.start()
    assert await bot.wait_exit(30) == 2, bot.log_tail()
    errors = [line for line in bot.log_text().splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and errors[0].startswith("error: TEAMS: team 'network': unknown category 'wifi'")
    assert "Traceback" not in bot.log_text()
    assert not bot_api.calls_to(methods=["getUpdates", "sendMessage"])

"""Agents' replies through the Bot API stand-in: the real bot process with CANNED_REPLIES_FILE and a
forum staff chat (a topic per ticket).

`/reply N #name` reaches a Russian customer in Russian with her name and number filled in; an agent's
edited reply reaches her as a correction; in the ticket's topic a `!` note is not relayed while a plain
message is; `/open CUSTOMER_ID text` registers a ticket for a customer who wrote before, and an unknown
id opens nothing.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.test_agents import FAST, NUMBER, UNKNOWN, card_of
from tests.e2e.test_self_help import finish
from tests.support.database_state import wait_outbox_settled

pytestmark = pytest.mark.e2e

SAMPLE = Path(__file__).resolve().parents[2] / "docs" / "canned-replies-sample.toml"
CANNED = {**FAST, "CANNED_REPLIES_FILE": str(SAMPLE)}


async def test_canned_reply_correction_topic_talk_and_notes(bot_api, bot_factory) -> None:
    await bot_factory.start(env=CANNED, staff_forum=True)
    staff, agent = bot_factory.staff, bot_api.user(7001)
    olga = bot_api.user(601, "Ольга", language_code="ru")

    await olga.send("не печатает принтер на втором этаже, бумага застревает")
    number = await finish(olga, await olga.next_message(timeout=30))
    card = await card_of(staff, number)
    topic = card.thread_id
    assert topic is not None and "id 601" in card.text

    # a canned reply: in Russian, her name and her number filled in
    await agent.send(f"/reply {number} #restart")
    canned = await olga.wait_for("Перезагрузите", timeout=20)
    assert "Здравствуйте, Ольга!" in canned.text and f"по заявке {number}" in canned.text and "{" not in canned.text
    ack = await agent.wait_for("Canned reply #restart sent", timeout=20)
    assert "(in ru)" in ack.text

    # an edited reply to the card: the correction, marked as such
    said = await agent.reply(card, "Приду в 15:00")
    await olga.wait_for("Приду в 15:00", timeout=20)
    await agent.edit(said, "Приду в 16:00")
    correction = await olga.wait_for("исправила предыдущее сообщение", timeout=20)
    assert correction.text.endswith("Приду в 16:00") and number in correction.text

    # the topic: a note stays with the staff, plain talk goes to her (after the note, so its absence is final)
    await agent.send_in(staff.id, "!поставщик обещал картридж в среду", thread_id=topic)
    await staff.wait_for("Internal note added", timeout=20, thread_id=topic)
    await agent.send_in(staff.id, "Картридж будет в среду", thread_id=topic)
    await olga.wait_for("Картридж будет в среду", timeout=20)
    assert not any("поставщик" in m.content for m in olga.messages)
    await wait_outbox_settled(bot_factory.default_database_url)


async def test_open_for_a_known_customer_and_not_for_an_unknown_one(bot_api, bot_factory) -> None:
    await bot_factory.start(env=FAST)
    staff, agent = bot_factory.staff, bot_api.user(7001)
    ann, eve = bot_api.user(501, "Ann", language_code="en"), bot_api.user(666, "Eve", language_code="en")
    await ann.send("/start")
    await ann.wait_for("", timeout=20)

    await agent.send("/open 424242 the printer is broken")
    await agent.wait_for("no ticket was opened", timeout=20)
    await eve.send("/open 501 the printer is broken")  # not an agent
    await eve.wait_for(UNKNOWN, timeout=20)

    await agent.send("/open 501 The VPN disconnects every five minutes since this morning")
    opened = await agent.wait_for("opened for Ann", timeout=30)
    number = NUMBER.search(opened.text).group(0)
    told = await ann.wait_for("registered a request for you", timeout=20)
    assert number in told.text and "The VPN disconnects" in told.text and "First response: within" in told.text
    card = await card_of(staff, number)
    assert "id 501" in card.text
    # the refused /open and Eve's came first: this is the only card
    assert [m for m in staff.messages if "📄 Details" in m.buttons] == [card]
    await wait_outbox_settled(bot_factory.default_database_url)

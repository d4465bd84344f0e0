"""A ticket's forum topic that an admin closed or deleted: the staff still get every message about it.

With STAFF_TOPICS on, each ticket has its topic in the staff forum and everything about it goes there. An
admin may close or delete that topic in Telegram; then Telegram refuses sends to it ("message thread not
found", "TOPIC_CLOSED"), and the bot posts to the forum's general topic instead, under the ticket's number.
These are the only refusals and fallbacks these tests expect.
"""

from __future__ import annotations

import re

import pytest

from tests.support.database_state import wait_outbox_settled

pytestmark = pytest.mark.e2e

FAST = {"OUTBOX_PRIVATE_INTERVAL": "50ms"}
NUMBER = re.compile(r"\b(?:INC|REQ)-\d{6}\b")


async def register(user, text: str) -> str:
    """Walk the intake with the first offered answers; returns the ticket number."""
    await user.send(text)
    for _ in range(15):
        q = await user.next_message(timeout=30)
        if "Registered" in (q.text or ""):
            return NUMBER.search(q.text).group(0)
        if "✅ Confirm" in q.buttons:
            await user.press(q, "✅ Confirm")
        elif "Skip" in user.keyboard:
            await user.press_reply_button("Skip")
        elif "Skip" in q.buttons:
            await user.press(q, "Skip")
        elif q.buttons:
            await user.press(q, q.buttons[0])
    raise AssertionError("the intake did not finish")


async def add_to_ticket(user, text: str) -> None:
    """A plain message from a customer with an open ticket: they say it is about that ticket."""
    await user.send(text)
    chooser = await user.wait_for("Which one is this message about?", timeout=20)
    await user.press(chooser, chooser.buttons[0])
    await user.wait_for("Added to", timeout=20)


async def topic_card(staff, number: str):
    card = await staff.wait_for(number, predicate=lambda m: "📄 Details" in m.buttons, timeout=20, include_seen=True)
    assert card.thread_id is not None and number in staff.topics[card.thread_id]["name"]
    return card


@pytest.mark.refusals("sendMessage 400 Bad Request: message thread not found", "forum topic is gone")
async def test_a_deleted_topic_sends_the_ticket_to_the_general_topic(bot_api, bot_factory):
    await bot_factory.start(env=FAST, staff_forum=True)
    staff = bot_factory.staff
    ann = bot_api.user(501, "Ann", language_code="en")
    number = await register(ann, "The Wi-Fi in the east wing drops every ten minutes")
    card = await topic_card(staff, number)
    staff.delete_topic(card.thread_id)

    await add_to_ticket(ann, "It dropped again just now, in room 214")
    relay = await staff.wait_for("room 214", timeout=20)
    assert relay.thread_id is None and number in relay.text  # the general topic, still under the number
    refused = bot_api.calls_to(staff.id, "sendMessage")
    assert any(c.status == 400 and c.params.get("message_thread_id") == card.thread_id for c in refused)
    # the ticket's later messages go there too, and nothing is lost (her conversation goes on: no chooser)
    await ann.send("And once more at noon")
    await ann.wait_for("Added to", timeout=20)
    assert (await staff.wait_for("once more at noon", timeout=20)).thread_id is None
    await wait_outbox_settled(bot_factory.default_database_url)


@pytest.mark.refusals("sendMessage 400 Bad Request: TOPIC_CLOSED", "forum topic is gone|topic is closed")
async def test_a_closed_topic_sends_the_ticket_to_the_general_topic(bot_api, bot_factory):
    await bot_factory.start(env=FAST, staff_forum=True)
    staff = bot_factory.staff
    ann = bot_api.user(502, "Ann", language_code="en")
    number = await register(ann, "The projector in meeting room 3 shows no picture")
    card = await topic_card(staff, number)
    await staff.close_topic(card.thread_id, by=bot_api.users[7001])

    await add_to_ticket(ann, "The cable was checked, still no picture")
    relay = await staff.wait_for("still no picture", timeout=20)
    assert relay.thread_id is None and number in relay.text
    assert staff.topics[card.thread_id].get("closed")  # the bot did not reopen what an admin closed
    await wait_outbox_settled(bot_factory.default_database_url)

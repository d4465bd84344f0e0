"""Agents work tickets from Telegram: the real bot process against the Bot API stand-in.

Cards in the staff chat, Take / Ask / Resolve buttons and replies to cards, the customer's answers (by
reply, by plain message, after the Reply button), confirming or rejecting the fix, agent commands in a
private chat, what non-agents get (nothing more than the unknown-command reply, "outdated", or "only
agents" on an agent's button), invalid transitions, two customers whose replies never cross, and replies
that keep working after a SIGKILL.
"""

from __future__ import annotations

import re

import pytest

from tests.conftest import ON_EACH_RUNTIME
from tests.support.database_state import wait_outbox_settled

pytestmark = pytest.mark.e2e

FAST = {"OUTBOX_PRIVATE_INTERVAL": "50ms"}  # the staff group keeps Telegram's pacing: a test stays within it
NUMBER = re.compile(r"\b(?:INC|REQ)-\d{6}\b")
UNKNOWN = "I don't know that command"


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


async def card_of(staff, number: str):
    return await staff.wait_for(number, predicate=lambda m: "📄 Details" in m.buttons, timeout=15, include_seen=True)


@ON_EACH_RUNTIME
async def test_take_ask_answer_resolve_confirm(bot_api, bot_factory, bot_runtime):
    # Ann gets some 25 messages while the simulated people answer within milliseconds: at most 4 a second
    # keeps her chat within Telegram's burst allowance (tests/support/flood.py)
    await bot_factory.start(env={**FAST, "OUTBOX_PRIVATE_INTERVAL": "250ms"})
    staff = bot_factory.staff
    agent = bot_api.user(7001)
    ann = bot_api.user(501, "Ann", username="ann", language_code="en")

    number = await register(ann, "The printer on floor 2 is jammed and prints nothing at all")
    card = await card_of(staff, number)
    assert "🙋 Take" in card.buttons and "New" in card.text

    # Take: the card is edited in place, the customer is told who took it
    press = await agent.press(card, "🙋 Take")
    assert number in (await press.answer())["text"]
    await staff.wait_edit(card, "Agent1", predicate=lambda m: "🙋 Take" not in m.buttons and "In progress" in m.text)
    told = await ann.wait_for("Agent1")
    assert number in told.text

    # Ask: a ForceReply prompt in the staff chat; the reply to it is the question
    await agent.press(card, "❓ Ask for info")
    prompt = await staff.wait_for("reply to this message with your question")
    assert (prompt.reply_keyboard or {}).get("force_reply") is True
    await agent.reply(prompt, "Which printer model is it, and is there an error code on the display?")
    question = await ann.wait_for("Which printer model")
    assert number in question.text and "✍️ Reply" in question.buttons
    await staff.wait_edit(card, "Waiting")

    # the customer answers by a Telegram reply: attached, relayed under the card, back in progress
    await ann.reply(question, "HP LaserJet 400, error 13.20")
    added = await ann.wait_for("added to")
    assert number in added.text
    relay = await staff.wait_for("HP LaserJet 400")
    assert relay.reply_to == card.id and "Ann" in relay.text
    await staff.wait_edit(card, "In progress")

    # /ask from the agent's private chat; the customer answers with a plain message (their only waiting ticket)
    await agent.command("ask", f"{number} Did restarting it help?")
    ack = await agent.wait_for("Question sent")
    assert number in ack.text
    question2 = await ann.wait_for("Did restarting it help?")
    await ann.send("No, still jammed after a restart")
    await ann.wait_for("added to")
    await staff.wait_for("still jammed after a restart")

    # the Reply button, then the answer with a photo
    await ann.press(question2, "✍️ Reply")
    await ann.wait_for("Type your answer")
    await ann.send_photo(caption="the display")
    await ann.wait_for("added to")
    await staff.wait_for("the display", predicate=lambda m: m.kind == "photo")

    # an agent's reply to the card goes to the customer, headed with the number
    await agent.reply(card, "We are sending a technician with a new fuser.")
    reply = await ann.wait_for("new fuser")
    assert f"{number} · Support" in reply.text
    ack = await staff.wait_for("Sent to the customer")
    await agent.reply(ack, "He will be there before noon.")  # replying to the acknowledgement works too
    await ann.wait_for("before noon")

    # a plain message while the ticket is in progress, right after her answer: the conversation goes on
    # (docs/customer-messages.md), so it is added without asking which ticket it is for
    sent = await ann.send("It is the printer near room 204")
    await ann.wait_for("Added to")
    assert not any("Which one is this message about?" in m.content for m in ann.messages)
    # ... then edits it: relayed as an edit
    await staff.wait_for("room 204")
    await ann.edit(sent, "It is the printer near room 206")
    await ann.wait_for("correction was passed on")
    await staff.wait_for("edited: It is the printer near room 206")

    # Resolve: the prompt's reply is the closing report; the customer confirms and the ticket closes
    await agent.press(card, "✅ Resolve")
    prompt = await staff.wait_for("closing report")
    await agent.reply(prompt, "technical The fuser was worn out; replaced it and printed a test page.")
    resolved = await ann.wait_for("is resolved")
    assert "fuser was worn out" in resolved.text
    await staff.wait_edit(card, "Resolved")
    await ann.press(resolved, "👍 Yes, it's fixed")
    await ann.wait_for("is closed")
    await staff.wait_edit(card, "Closed")
    await bot_api.wait_until(lambda: not ann.chat.get(resolved.id).buttons, timeout=5)

    # /ticket shows the whole history and re-sends the attachment
    await agent.command("ticket", number)
    details = await agent.wait_for("History")
    for fragment in ("New → In progress", "question", "answer", "Resolved → Closed", "Closing report"):
        assert fragment in details.text, fragment
    await agent.wait_for(f"{number} · attachment 1/1", predicate=lambda m: m.kind == "photo")


def ticket_id_of(card) -> int:
    return int(card.button("📄 Details")["callback_data"].split(":")[2])


@pytest.mark.refusals("createForumTopic 400 Bad Request: the chat is not a forum")
async def test_still_a_problem_invalid_transitions_and_two_customers(bot_api, bot_factory):
    # STAFF_TOPICS on a staff group that is no forum: plain cards, and the log says so once
    bot = await bot_factory.start(env={**FAST, "STAFF_TOPICS": "true"})
    staff = bot_factory.staff
    agent1, agent2 = bot_api.user(7001), bot_api.user(7002)
    ann = bot_api.user(501, "Ann", language_code="en")
    bob = bot_api.user(502, "Bob", language_code="en")
    a = await register(ann, "My laptop screen flickers and goes black every few minutes")
    b = await register(bob, "I need access to the shared finance folder on the file server")
    card_a, card_b = await card_of(staff, a), await card_of(staff, b)

    # two questions, two answers by reply: each goes to its own ticket, nothing crosses
    await agent2.command("ask", f"{a} When did the flickering start?")
    await agent2.command("ask", f"{b} Which folder exactly, and who approves it?")
    qa = await ann.wait_for("When did the flickering start?")
    qb = await bob.wait_for("Which folder exactly")
    await bob.reply(qb, "Finance/2024, approved by Carol")
    await ann.reply(qa, "Since Monday morning")
    assert a in (await ann.wait_for("added to")).text
    assert b in (await bob.wait_for("added to")).text
    relay_b = await staff.wait_for("Finance/2024", timeout=15, include_seen=True)
    relay_a = await staff.wait_for("Since Monday morning", timeout=15, include_seen=True)
    assert b in relay_b.text and "Bob" in relay_b.text and relay_b.reply_to == card_b.id
    assert a in relay_a.text and "Ann" in relay_a.text and relay_a.reply_to == card_a.id
    await agent1.reply(relay_b, "Access granted, please log out and in again.")
    await bob.wait_for("Access granted")
    # the staff chat's updates are handled in order, and Ann's messages go out in order: once the answer
    # to this later reply reaches her, anything the reply to Bob had wrongly sent her would be there too
    await agent1.reply(relay_a, "Thanks, we are looking into the flickering.")
    await ann.wait_for("looking into the flickering")
    assert not any(b in m.content or "Bob" in m.content or "Finance" in m.content for m in ann.messages)
    assert not any(a in m.content or "Monday" in m.content for m in bob.messages)

    # refusals, corrections and every command's usage: tests/handlers/test_agents.py (in-process)
    await agent1.command("priority", f"{a} P1")
    assert "P1" in (await agent1.next_message()).text
    await staff.wait_edit(card_a, "P1 · critical", predicate=lambda m: a in m.text)

    # resolved, then "Still a problem": back in progress, the staff are told, the next message is kept
    await agent1.command("resolve", f"{a} technical: Display cable was loose; reseated it and tested for ten minutes.")
    resolved = await ann.wait_for("is resolved")
    await ann.press(resolved, "👎 Still a problem")
    await ann.wait_for("back in progress")
    await staff.wait_for("says it is still a problem", predicate=lambda m: a in m.text)
    await staff.wait_edit(card_a, "In progress")
    await ann.send("It flickered again right after lunch")
    await ann.wait_for("Added to")
    await staff.wait_for("right after lunch")
    # the old resolution's button is outdated now (the ticket is no longer resolved)
    press = await ann.press_data(resolved, f"fx:{ticket_id_of(card_a)}:y")
    assert "out of date" in (await press.answer())["text"]

    # the queue and the statistics
    await agent1.command("queue")
    queue = await agent1.wait_for("Queue")
    assert a in queue.text and b in queue.text and any(a in label for label in queue.buttons)
    await agent1.press(queue, next(label for label in queue.buttons if a in label))
    details = await agent1.wait_for("History")
    assert "still a problem" in details.text
    await agent1.command("stats")
    stats = await agent1.wait_for("Statistics", predicate=lambda m: m.kind == "photo")  # the chart, figures below
    assert "By state: In progress: 2" in stats.caption and "By type: Incident: 1, Service request: 1" in stats.caption

    assert card_a.thread_id is None and card_b.thread_id is None
    assert bot.log_text().count("refused to create a forum topic") == 1
    assert "Last 7 days" in stats.caption and "First response, median" in stats.caption


@ON_EACH_RUNTIME
async def test_non_agents_get_nothing(bot_api, bot_factory, bot_runtime):
    await bot_factory.start(env=FAST)
    staff = bot_factory.staff
    ann = bot_api.user(501, "Ann", language_code="en")
    eve = bot_api.user(666, "Eve", username="eve", language_code="en")
    number = await register(ann, "The projector in meeting room 3 does not turn on")
    card = await card_of(staff, number)
    tid = ticket_id_of(card)
    staff.skip()
    original = card.text
    staff_before = {m.id for m in staff.messages}
    card_versions = len(card.history)

    # private chat: exactly the unknown-command reply (the customer's own /status finds nothing)
    commands = [
        "queue", "stats", "export", f"ticket {number}", f"take {number}", f"assign {number} 666", f"reply {number} hi",
        f"ask {number} why?", f"resolve {number} fixed it by myself today", f"close {number}", f"reopen {number}",
        f"retype {number} access", f"priority {number} P1",
    ]  # fmt: skip
    for command in commands:
        await eve.send("/" + command)
        reply = await eve.next_message()
        assert UNKNOWN in reply.text, (command, reply.text)
    await eve.send(f"/status {number} closed")
    assert "can't find" in (await eve.next_message()).text
    await eve.send(f"/status {number}")
    assert "can't find" in (await eve.next_message()).text

    # the staff chat: silence for non-agents and anonymous admins, replies to cards go nowhere
    for command in commands[:6]:
        await eve.send_in(staff.id, "/" + command)
    await staff.anonymous_admin(f"/take {number}")
    await staff.anonymous_admin("Anonymous reply to the card", reply_to=card)
    await eve.reply(card, "Eve writes to the customer")

    # forged buttons: refused or outdated, nothing happens
    for data in (f"ag:take:{tid}", f"ag:det:{tid}", f"ag:ask:{tid}", f"ag:res:{tid}"):
        press = await eve.press_data(card, data)
        assert (await press.answer())["text"] == "Only support agents can do this.", data
    menu = eve.messages[-1]
    for data in (f"fx:{tid}:y", f"fx:{tid}:n", f"an:{tid}", f"ft:{tid}", "ft:new"):
        press = await eve.press_data(menu, data)
        answer = await press.answer()
        assert answer["text"] and ("out of date" in answer["text"] or "earlier message" in answer["text"]), data
    press = await eve.press_data(menu, "ag:take:999999")  # an agent's button: she is told it is not hers
    assert (await press.answer())["text"] == "Only support agents can do this."

    # a later update in each chat is handled after all of the above (a chat's updates go in order), and its
    # answer goes out after anything they could have sent there: then nothing else may be in those chats
    eve_before = {m.id for m in eve.messages}
    await bot_api.user(7001).send_in(staff.id, "/queue")
    queue = await staff.wait_for("Queue")
    assert [m.id for m in staff.messages if m.id not in staff_before] == [queue.id]
    await eve.command("help")
    help_text = await eve.wait_for("How I can help")
    assert [m.id for m in eve.messages if m.id not in eve_before] == [help_text.id]
    assert card.text == original and "🙋 Take" in card.buttons and len(card.history) == card_versions
    assert not any("Eve" in m.content or m.content == "hi" for m in ann.messages)
    assert not any(number in m.content and "can't find" not in m.content for m in eve.messages)


async def test_replies_keep_working_after_kill_and_restart(bot_api, bot_factory):
    bot = await bot_factory.start(env=FAST)
    staff = bot_factory.staff
    agent = bot_api.user(7001)
    ann = bot_api.user(501, "Ann", language_code="en")
    number = await register(ann, "Outlook keeps asking for my password and never connects")
    card = await card_of(staff, number)
    await agent.command("ask", f"{number} Did you change your password recently?")
    question = await ann.wait_for("change your password")
    await agent.press(card, "✅ Resolve")
    prompt = await staff.wait_for("closing report")
    await wait_outbox_settled(bot_factory.default_database_url)

    bot.kill()
    bot.start()
    await bot.wait_ready(bot_api)

    await ann.reply(question, "Yes, yesterday")
    await ann.wait_for("added to")
    relay = await staff.wait_for("Yes, yesterday")
    await agent.reply(relay, "Please re-enter the new password in Outlook's prompt.")
    await ann.wait_for("re-enter the new password")
    # the agent's formatting (bold, a link) reaches the customer as formatting, not as escaped tags
    words = "Then press Sync <now> & check the guide"
    bold = {"type": "bold", "offset": words.index("Sync"), "length": len("Sync")}
    link = {"type": "text_link", "offset": words.index("guide"), "length": 5, "url": "https://help.example/sync"}
    await agent.send(words, chat_id=staff.chat_id, reply_to=relay, entities=[bold, link])
    formatted = await ann.wait_for("Then press Sync")
    assert "Then press Sync <now> & check the guide" in formatted.text  # user text shown literally
    shown = formatted.text.encode("utf-16-le")  # entity offsets count UTF-16 units (the header has an emoji)

    def part(e: dict) -> str:
        return shown[2 * e["offset"] : 2 * (e["offset"] + e["length"])].decode("utf-16-le")

    entities = {(e["type"], part(e)) for e in formatted.data["entities"]}
    assert ("bold", "Sync") in entities and ("text_link", "guide") in entities
    await agent.reply(prompt, "configuration The cached password was stale; updated it in the credential manager.")
    resolved = await ann.wait_for("is resolved")
    await ann.press(resolved, "👍 Yes, it's fixed")
    await ann.wait_for("is closed")
    await staff.wait_edit(card, "Closed")


async def test_forum_topic_per_ticket(bot_api, bot_factory):
    await bot_factory.start(env=FAST, staff_forum=True)
    staff = bot_factory.staff
    agent = bot_api.user(7001)
    ann = bot_api.user(501, "Ann", language_code="en")
    number = await register(ann, "The Wi-Fi in the east wing drops every ten minutes")
    card = await card_of(staff, number)
    assert card.thread_id is not None and number in staff.topics[card.thread_id]["name"]

    # a reply to the card in its topic goes to the customer; a note (`!`) in the topic stays internal
    await agent.send_in(staff.id, "!Internal: probably the access point firmware", thread_id=card.thread_id)
    await agent.reply(card, "Which floor and room are you in?")
    await ann.wait_for("Which floor and room")
    await ann.send("Second floor, room 214")
    chooser = await ann.wait_for("Which one is this message about?")
    await ann.press(chooser, chooser.buttons[0])
    await ann.wait_for("Added to")
    relay = await staff.wait_for("room 214")
    assert relay.thread_id == card.thread_id and relay.reply_to == card.id
    await agent.press(card, "🙋 Take")
    await staff.wait_edit(card, "Agent1")
    await ann.wait_for("Agent1")
    assert not any("Internal" in m.content for m in ann.messages)

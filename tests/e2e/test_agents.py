"""Agents work tickets from Telegram: the real bot process against the Bot API stand-in.

Cards in the staff chat, Take / Ask / Resolve buttons and replies to cards, the customer's answers (by
reply, by plain message, after the Reply button), confirming or rejecting the fix, agent commands in a
private chat, what non-agents get (nothing more than the unknown-command reply or "outdated"), invalid
transitions, two customers whose replies never cross, and replies that keep working after a SIGKILL.
"""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.e2e

FAST = {"OUTBOX_PRIVATE_INTERVAL": "50ms", "OUTBOX_GROUP_PER_MINUTE": "1000"}
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


async def test_take_ask_answer_resolve_confirm(bot_api, bot_factory):
    await bot_factory.start(env=FAST)
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

    # a plain message while the ticket is in progress: the customer chooses the ticket it is for
    sent = await ann.send("It is the printer near room 204")
    chooser = await ann.wait_for("Which one is this message about?")
    assert chooser.buttons[-1] == "📝 It's a new request"
    await ann.press(chooser, chooser.buttons[0])
    await ann.wait_for("added to")
    # ... then edits it: relayed as an edit
    await staff.wait_for("room 204")
    await ann.edit(sent, "It is the printer near room 206")
    await ann.wait_for("correction was passed on")
    await staff.wait_for("edited: It is the printer near room 206")

    # Resolve: the prompt's reply is the closing report; the customer confirms and the ticket closes
    await agent.press(card, "✅ Resolve")
    prompt = await staff.wait_for("closing report")
    await agent.reply(prompt, "The fuser was worn out; replaced it and printed a test page.")
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
    for fragment in ("new → in_progress", "question", "answer", "resolved → closed", "Closing report"):
        assert fragment in details.text, fragment
    await agent.wait_for(f"{number} · attachment 1/1", predicate=lambda m: m.kind == "photo")

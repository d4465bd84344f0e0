"""Media end to end: the real bot process and the Bot API stand-in, which delivers an album as Telegram
does (one update per part, one media_group_id, the caption on the first part).

Each step's album and the kinds of notes are checked in-process (tests/handlers/test_media.py); here is
what needs the process: polling and the durable inbox taking an album's parts one by one, and delivery
copying voice and video notes both ways.
"""

from __future__ import annotations

import re

import pytest

from tests.conftest import ON_EACH_RUNTIME

pytestmark = pytest.mark.e2e

FAST = {"OUTBOX_PRIVATE_INTERVAL": "50ms"}  # the staff group keeps Telegram's pacing
NUMBER = re.compile(r"\b(?:INC|REQ)-\d{6}\b")
TEXT_NEEDED = "I need a text answer"
PRINTER = "The label printer in the warehouse is jammed and prints nothing at all"


async def to_summary(user, first):
    """From the bot's message `first`, answer with the first offered choices up to the summary."""
    q = first
    for _ in range(10):
        if "Please check your request" in q.text:
            return q
        if "Skip" in user.keyboard:
            await user.press_reply_button("Skip")
        elif "Skip" in q.buttons:
            await user.press(q, "Skip")
        else:
            await user.press(q, q.buttons[0])
        q = await user.next_message(timeout=15)
    raise AssertionError(f"the intake did not reach its summary: {q.text[:200]}")


async def test_a_three_photo_album_as_the_first_message_is_one_request(bot_api, bot_factory, database_url):
    await bot_factory.start(database_url, env=FAST)
    staff = bot_factory.staff
    ann = bot_api.user(501, "Ann", username="ann", language_code="en")

    await ann.send_album(3, PRINTER)
    first = await ann.next_message(timeout=30)
    assert "Which service or device is affected?" in first.text
    summary = await to_summary(ann, first)
    assert "Attachments: 3" in summary.text and PRINTER in summary.text
    await ann.press(summary, "✅ Confirm")
    done = await ann.wait_for("Registered", timeout=15)
    number = NUMBER.search(done.text).group(0)

    # everything Ann was told came after the album's three updates were handled: none asked for text
    assert not [m.text for m in ann.messages if TEXT_NEEDED in (m.text or "")]
    assert [m.text for m in ann.messages if "Which service or device" in (m.text or "")] == [first.text]
    for index in (1, 2, 3):
        await staff.wait_for(f"{number} · attachment {index}/3", predicate=lambda m: m.kind == "photo", timeout=30)


@ON_EACH_RUNTIME
async def test_voice_and_video_notes_on_an_open_ticket_go_both_ways(bot_api, bot_factory, bot_runtime):
    await bot_factory.start(env=FAST)
    staff = bot_factory.staff
    agent = bot_api.user(7001)
    ann = bot_api.user(501, "Ann", username="ann", language_code="en")

    await ann.send(PRINTER)
    summary = await to_summary(ann, await ann.next_message(timeout=30))
    await ann.press(summary, "✅ Confirm")
    number = NUMBER.search((await ann.wait_for("Registered", timeout=15)).text).group(0)
    card = await staff.wait_for(number, predicate=lambda m: "📄 Details" in m.buttons, timeout=15)
    await agent.press(card, "🙋 Take")
    taken = await ann.wait_for("Agent1", timeout=15)

    # the customer's voice note, as a reply to a message of the ticket, reaches the staff under the card
    await ann.send_voice(reply_to=taken)
    await ann.wait_for(f"Added to {number}", timeout=15)
    relayed = await staff.wait_for(f"{number} · message from Ann", predicate=lambda m: m.kind == "voice", timeout=15)
    assert relayed.reply_to == card.id

    # the agent answers with a voice note (a reply to the card) and a video note (a reply to Ann's voice)
    await agent.send_voice(chat_id=staff.chat_id, reply_to=card)
    voice = await ann.wait_for(f"{number} · Support", predicate=lambda m: m.kind == "voice", timeout=15)
    await staff.wait_for("Sent to the customer", timeout=15)
    await agent.send_video_note(chat_id=staff.chat_id, reply_to=relayed)
    header = await ann.wait_for(f"{number} · Support", timeout=15)
    note = await ann.wait_for(predicate=lambda m: m.kind == "video_note", timeout=15)
    assert header.kind == "text" and header.id < note.id and not note.caption

    # Ann answers the agent's voice note with one of her own: it is on the ticket again
    await ann.send_voice(reply_to=voice)
    await ann.wait_for(f"Added to {number}", timeout=15)
    await staff.wait_for(f"{number} · message from Ann", predicate=lambda m: m.kind == "voice", timeout=15)

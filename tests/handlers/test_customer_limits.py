"""What one customer may ask of the desk, in-process on SQLite and PostgreSQL: the open-ticket cap
(MAX_OPEN_TICKETS_PER_CUSTOMER) and flood control (FLOOD_MESSAGES_PER_MINUTE). Agents are never limited."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest

from helpdesk import flood
from helpdesk.clock import now_utc
from storage import repos
from storage.outbox_rows import bell
from tests.handlers.harness import Desk, Person, Sent
from tests.handlers.test_customers import NUMBER, register


@pytest.fixture(params=["sqlite", "postgresql"])
def any_desk(request: pytest.FixtureRequest, runtime: str) -> Desk:
    """The desk on SQLite or on PostgreSQL (where several processes share the counts)."""
    return request.getfixturevalue("desk" if request.param == "sqlite" else "pg_desk")


def limited(desk: Desk, **limits: Any) -> Desk:
    """The desk restarted with other limits (as an operator would, in .env)."""
    desk.policy = desk.policy.model_copy(update=limits)
    desk.restart()
    return desk


async def another(person: Person, description: str) -> str:
    """A further request (a free message would ask which open ticket it is about): /new, then the walk."""
    await person.send("/new")
    return await register(person, description)


async def to_summary(person: Person, description: str) -> None:
    """Start a request and answer each question with the first offer, up to the summary's Confirm."""
    await person.send(description)
    for _ in range(12):
        question = person.last
        if "✅ Confirm" in question.buttons:
            return
        if "Skip" in question.buttons:
            await person.press(question, "Skip")
        elif question.reply_markup and "keyboard" in question.reply_markup:
            await person.send("Skip")
        else:
            await person.press(question, question.buttons[0])
    raise AssertionError(f"the intake did not reach its summary: {person.last.text[:200]}")


# -- open tickets ------------------------------------------------------------------------------------------


async def test_the_open_ticket_cap_refuses_before_the_form_and_names_the_open_tickets(any_desk: Desk) -> None:
    desk = limited(any_desk, max_open_tickets_per_customer=2)
    ann = desk.person(501, "Ann")
    first = await register(ann, "The printer on floor 2 jams on every page")
    second = await another(ann, "Please give me access to the sales folder")
    await ann.send("/new")
    by_command = ann.last.text
    await ann.send("The monitor flickers all the time")  # which ticket is it about? …or a new request
    await ann.press(ann.last, ann.last.buttons[-1])
    for refusal in (by_command, ann.last.text):
        assert "limit of open requests (2)" in refusal and first in refusal and second in refusal
        assert "What happened" not in refusal and "Which service" not in refusal  # no form started
    await ann.send("/cancel")
    assert "nothing to cancel" in ann.last.text  # and no draft was left behind

    olga = desk.person(601, "Ольга", lang="ru")
    mine = [await another(olga, f"Не работает принтер номер {n} в бухгалтерии") for n in (1, 2)]
    await olga.send("/new")
    assert "это предел" in olga.last.text and all(number in olga.last.text for number in mine)

    agent = desk.agent()  # agents file requests for others: never limited
    numbers = [await another(agent, f"The projector in meeting room {n} shows no picture") for n in (1, 2, 3)]
    assert len(set(numbers)) == 3


async def test_open_on_a_customers_behalf_respects_the_same_cap(any_desk: Desk) -> None:
    """/open CUSTOMER_ID text registered a third ticket for a customer capped at two (the cap every other way
    to a new ticket respects); now the agent is told which ones are open, in the agent's language."""
    desk = limited(any_desk, max_open_tickets_per_customer=2)
    ann, agent, oleg = desk.person(501, "Ann"), desk.agent(), desk.person(7002, "Олег", lang="ru")
    first = await register(ann, "The printer on floor 2 jams on every page")
    await agent.send("/open 501 Please give me access to the sales folder")  # one more is allowed
    second = NUMBER.search(agent.last.text).group(0)
    told = len(ann.chat.from_bot)

    await agent.send("/open 501 The monitor flickers all the time")
    refusal = agent.last.text
    assert "Ann already has the most open requests a customer may have (2)" in refusal
    assert first in refusal and second in refusal and "No ticket was opened" in refusal
    await oleg.send("/open 501 Монитор мигает")
    assert "У клиента Ann уже открыто заявок: 2 — это предел" in oleg.last.text
    assert len(ann.chat.from_bot) == told and not [m for m in desk.staff.from_bot if "monitor" in m.text.lower()]

    await agent.send(f"/resolve {second} Access granted to the sales folder.")
    await agent.send("/open 501 The monitor flickers all the time")  # room again: opened as usual
    assert "opened for Ann" in agent.last.text


async def test_a_ticket_reopened_meanwhile_is_refused_at_confirm_and_the_draft_is_kept(any_desk: Desk) -> None:
    desk = limited(any_desk, max_open_tickets_per_customer=1)
    ann, agent = desk.person(501, "Ann"), desk.agent()
    first = await register(ann, "Please give me access to the sales folder")
    await agent.send(f"/resolve {first} Access granted to the sales folder.")
    resolution = ann.chat.find("is resolved")
    await to_summary(ann, "The scanner in the office does not turn on at all")  # nothing open: the form starts
    summary = ann.last
    await ann.press(resolution, "👎 Still a problem")  # the first one is open again
    await ann.press(summary, "✅ Confirm")
    refused = ann.last
    assert "limit of open requests (1)" in refused.text and first in refused.text and "kept" in refused.text
    assert "✅ Confirm" in refused.buttons and not NUMBER.search(refused.text.replace(first, ""))

    await agent.send(f"/resolve {first} Access granted again, checked with the customer.")
    await ann.press(refused, "✅ Confirm")
    assert "Registered" in ann.last.text and "scanner" in desk.card(NUMBER.search(ann.last.text).group(0)).text


# -- flood control -----------------------------------------------------------------------------------------

SLOW_DOWN = "Please slow down"


async def sweep_after_the_minute(desk: Desk) -> int:
    """The flood digests' sweep, on a clock the test drives: the minute after the flood has ended."""
    async with desk.db.session() as session:
        posted = await flood.post_due_digests(session, desk.policy, now_utc() + flood.WINDOW + timedelta(seconds=1))
    bell.ring()
    await desk.settle()
    return posted


async def write_later(person: Person, text: str, reply_to: Sent | None = None) -> Sent:
    """A message sent after the minute of the flood (by Telegram's date, which is what is counted)."""
    return await person.write({"text": text, "date": int(time.time()) + 90}, reply_to=reply_to)


async def test_a_flood_gets_one_slow_down_and_the_staff_one_digest_on_the_ticket(any_desk: Desk) -> None:
    desk = limited(any_desk, flood_messages_per_minute=5)
    ann = desk.person(501, "Ann")
    number = await register(ann, "The printer on floor 2 jams on every page")
    relayed_before = len(desk.staff.from_bot)
    ann.new()
    for n in range(1, 31):
        await ann.send(f"hello? {n}")
    answers = ann.new()
    slow_downs = [m for m in answers if SLOW_DOWN in m.text]
    assert len(slow_downs) == 1 and answers[-1] is slow_downs[0]  # nothing answered after it
    assert "filling in" not in slow_downs[0].text  # no request form is open: none is mentioned
    assert len(answers) <= 5  # at most the limit's answers and the slow-down, for 30 messages
    relays = [m for m in desk.staff.from_bot[relayed_before:] if "message from Ann" in m.text]
    assert len(relays) <= 4 and not any("hello? 30" in m.text for m in relays)  # not relayed one by one

    assert await sweep_after_the_minute(desk) == 1
    digest = desk.staff.last
    assert number in digest.text and "sent 2" in digest.text and "hello? 30" not in digest.text  # 15 listed
    assert "… and" in digest.text
    held = int(digest.text.split("sent ", 1)[1].split(" ", 1)[0])
    assert held >= 26 and len(desk.staff.from_bot) == relayed_before + len(relays) + 1
    async with desk.db.session() as session:
        ticket = await repos.ticket_by_number(session, number)
        notes = [event.note for event in await repos.events_of(session, ticket.id) if event.kind == "message"]
    assert sorted(note for note in notes if note and note.startswith("hello?")) == sorted(
        f"hello? {n}" for n in range(31 - held, 31)
    )  # every held message is in the ticket's history
    assert await sweep_after_the_minute(desk) == 0  # posted once

    await write_later(ann, "Sorry, my keyboard was stuck. The printer still jams.")
    assert "Which one is this message about" in ann.last.text  # answered as usual again


async def test_the_next_message_after_the_minute_brings_the_digest_first(any_desk: Desk) -> None:
    desk = limited(any_desk, flood_messages_per_minute=3)
    ann, agent = desk.person(501, "Ann"), desk.agent()
    number = await register(ann, "The scanner in the office does not turn on at all")
    for n in range(1, 8):
        await ann.send(f"scanner {n}")
    assert SLOW_DOWN in ann.last.text
    await agent.send(f"/ask {number} Which room is the scanner in?")  # her next message is the answer
    await write_later(ann, "Room 204, next to the window")
    digest, answer = desk.staff.from_bot[-2:]
    assert "🌊" in digest.text and number in digest.text and "scanner 7" in digest.text
    assert "answer from Ann" in answer.text and "Room 204" in answer.text  # after the digest, as written
    assert await sweep_after_the_minute(desk) == 0  # already posted


async def test_the_count_is_the_databases_so_a_restarted_process_keeps_it(any_desk: Desk) -> None:
    desk = limited(any_desk, flood_messages_per_minute=4)
    bob = desk.person(502, "Bob")
    await bob.send("/start")
    for n in range(1, 4):
        await bob.send(f"/help {n}")
    desk.restart()  # another process on the same database: no memory of the count
    await bob.send("/help 4")
    await bob.send("/help 5")
    texts = bob.chat.texts()
    assert sum(SLOW_DOWN in text for text in texts) == 1 and SLOW_DOWN in texts[-1]
    assert await sweep_after_the_minute(desk) == 1
    assert "Bob (no open ticket) sent 2 messages" in desk.staff.last.text and "/help 5" in desk.staff.last.text


async def test_an_intake_open_during_a_flood_keeps_its_answers_and_its_question(desk: Desk) -> None:
    limited(desk, flood_messages_per_minute=3)
    olga = desk.person(601, "Ольга", lang="ru")
    await olga.send("Не работает принтер в бухгалтерии, бумага застревает")
    question = olga.last
    for n in range(1, 6):
        await olga.send(f"ответ {n}")
    assert "помедленнее" in olga.last.text and sum("помедленнее" in t for t in olga.chat.texts()) == 1
    assert "Заявка, которую вы заполняете, ждёт на последнем вопросе" in olga.last.text  # her form is open
    await olga.press(question, question.buttons[0])  # buttons are not counted: the form goes on
    assert "Кого затрагивает" in olga.last.text or "?" in olga.last.text
    async with desk.db.session() as session:
        customer = await repos.customer_by_telegram_id(session, 601)
        draft = await repos.draft_of(session, customer.id)
    assert draft.answers["description"].startswith("Не работает принтер")  # held messages are no answers


async def test_button_presses_beyond_the_limit_are_answered_on_the_button_and_send_nothing(any_desk: Desk) -> None:
    """A press can make the bot send a message (the menu's Help here): hammering a button gets the limit's
    answers, then only a note on the button. Presses are counted apart from messages, and never limited
    below `PRESSES_AT_LEAST` (a walk through the form under a small limit is tested above: `register`)."""
    desk = limited(any_desk, flood_messages_per_minute=3)
    allowed = flood.presses_per_minute(desk.policy)
    assert allowed == flood.PRESSES_AT_LEAST
    ann = desk.person(501, "Ann")
    await ann.send("/start")
    menu = ann.last
    ann.new()
    answers = [await ann.press(menu, "❓ Help") for _ in range(allowed + 3)]
    helps = ann.new()
    assert len(helps) == allowed and all("How I can help" in m.text for m in helps), len(helps)
    refused = [a for a in answers if a.get("text") and "Too many presses" in a["text"]]
    assert len(refused) == 3 and answers[allowed:] == refused  # the presses after the limit, and only they
    assert not any(SLOW_DOWN in text for text in ann.chat.texts())  # the messages' count is untouched
    await ann.send("/help")
    assert "How I can help" in ann.last.text

    olga = desk.person(601, "Ольга", lang="ru")  # another chat: her own count
    await olga.send("/start")
    menu = olga.last
    answers = [await olga.press(menu, menu.buttons[-1]) for _ in range(allowed + 1)]
    assert not any(a.get("text") for a in answers[:allowed]) and "Слишком много нажатий" in answers[-1]["text"]


async def test_agents_are_never_limited(desk: Desk) -> None:
    limited(desk, flood_messages_per_minute=2)
    agent = desk.agent()
    for _ in range(6):
        await agent.send("/queue")
        await agent.send_in(desk.staff.id, "/queue")
    assert not any(SLOW_DOWN in text for text in agent.chat.texts() + desk.staff.texts())
    assert len(agent.chat.from_bot) == 6 and len(desk.staff.from_bot) == 6


async def test_an_album_is_one_message_for_the_count(desk: Desk) -> None:
    limited(desk, flood_messages_per_minute=2)
    ann = desk.person(501, "Ann")
    for n in range(3):  # Telegram sends each part as a message of its own
        size = {"file_id": f"p{n}", "file_unique_id": f"u{n}", "width": 90, "height": 90, "file_size": 1000}
        await ann.write({"photo": [size], "media_group_id": "album-1", **({"caption": "the jam"} if n == 0 else {})})
    await ann.send("That is all, thank you")
    assert not any(SLOW_DOWN in text for text in ann.chat.texts())
    await ann.send("one more")
    assert SLOW_DOWN in ann.last.text


async def test_edits_count_too_and_a_held_edit_is_in_the_digest(any_desk: Desk) -> None:
    desk = limited(any_desk, flood_messages_per_minute=3)
    ann = desk.person(501, "Ann")
    number = await register(ann, "The scanner in the office does not turn on at all")
    written = await ann.send("It is the scanner in room 204")  # which ticket? — her only one
    await ann.press(ann.last, ann.last.buttons[0])
    for n in range(1, 9):  # each edit would be relayed to the staff and answered
        await ann.edit(written, f"It is the scanner in room 20{n}")
    assert sum(SLOW_DOWN in text for text in ann.chat.texts()) == 1 and SLOW_DOWN in ann.last.text
    assert await sweep_after_the_minute(desk) == 1
    digest = desk.staff.last
    assert number in digest.text and "[edited] It is the scanner in room 208" in digest.text

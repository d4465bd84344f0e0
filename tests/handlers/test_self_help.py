"""Self-help in-process, on both runtimes: articles offered before the form ("This solved it" registers
nothing and is counted, "I still need help" goes on with the description), /kb N NAME in the customer's
language, and who may use them (strangers, customers, forged and old buttons)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from helpdesk.policy import DeskPolicy
from tests.handlers.harness import AGENTS, STAFF, Desk, Person
from tests.handlers.test_customers import NUMBER, register

SAMPLE = Path(__file__).resolve().parents[2] / "docs" / "kb-sample"
WIFI = "How do I connect to the office Wi-Fi?"
WIFI_TITLE = "📄 Connect to the office Wi-Fi"
UNKNOWN = "I don't know that command"


async def finish(person: Person) -> str:
    """Walk on from the question on show with the first offered answers; the ticket number."""
    for _ in range(12):
        question = person.last
        if "Registered" in question.text:
            return NUMBER.search(question.text).group(0)
        if "✅ Confirm" in question.buttons:
            await person.press(question, "✅ Confirm")
        elif "Skip" in question.buttons:
            await person.press(question, "Skip")
        elif question.reply_markup and "keyboard" in question.reply_markup:
            await person.send("Skip")
        else:
            await person.press(question, question.buttons[0])
    raise AssertionError(f"the intake did not finish: {person.last.text[:200]}")


def with_articles(desk: Desk, kb_dir: Path | None = SAMPLE) -> Desk:
    """The desk restarted with KB_DIR set (the rest of its policy as it was)."""
    desk.policy = DeskPolicy(agent_ids=frozenset(AGENTS), staff_chat_id=STAFF, kb_dir=str(kb_dir) if kb_dir else None)
    desk.restart()
    return desk


async def test_this_solved_it_registers_nothing_and_shows_in_stats(desk: Desk) -> None:
    with_articles(desk)
    ann, staff_before = desk.person(501, "Ann"), len(desk.staff.from_bot)
    await ann.send(WIFI)
    offer = ann.last
    assert "These articles may answer your question" in offer.text
    assert offer.buttons[0] == WIFI_TITLE and "🙋 I still need help" in offer.buttons
    await ann.press(offer, WIFI_TITLE)
    article, question = ann.chat.from_bot[-2:]
    assert "Connect to the office Wi-Fi" in article.text and "Office-Corp" in article.text
    assert "Did this article solve it?" in question.text and "✅ This solved it" in question.buttons
    await ann.press(question, "✅ This solved it")
    assert "Nothing was registered" in ann.last.text
    assert len(desk.staff.from_bot) == staff_before  # no card
    await ann.send("/my")
    assert not NUMBER.search(ann.last.text)

    agent = desk.agent()
    await agent.send("/stats")
    assert "Self-help: articles offered 1 time · solved it 1 (100%)" in agent.last.text


async def test_i_still_need_help_goes_on_with_the_description_typed(desk: Desk) -> None:
    with_articles(desk)
    ann = desk.person(502, "Ann")
    await ann.send(WIFI)
    await ann.press(ann.last, WIFI_TITLE)
    await ann.press(ann.last, "🙋 I still need help")
    assert "your description is kept" in ann.last.text and "What happened" not in ann.last.text
    number = await finish(ann)  # the form goes on from the next question
    assert WIFI in desk.card(number).text
    agent = desk.agent()
    await agent.send("/stats")
    assert "still needed help 1" in agent.last.text


async def test_a_problem_no_article_answers_goes_straight_to_the_form(desk: Desk) -> None:
    with_articles(desk)
    ann = desk.person(503, "Ann")
    await ann.send("The label printer in the warehouse is jammed and prints nothing at all")
    assert "These articles" not in ann.last.text and "Which service or device" in ann.last.text


async def test_russian_customers_get_russian_titles(desk: Desk) -> None:
    with_articles(desk)
    olga = desk.person(601, "Ольга", lang="ru")
    await olga.send("как подключиться к офисному вайфаю?")
    assert "Как подключиться к офисному Wi-Fi" in " ".join(olga.last.buttons), olga.last.buttons
    assert "🙋 Мне всё ещё нужна помощь" in olga.last.buttons


async def test_kb_sends_the_article_in_the_customers_language(desk: Desk) -> None:
    with_articles(desk)
    olga = desk.person(601, "Ольга", lang="ru")
    number = await register(olga, "не могу подключить второй монитор к ноутбуку, он не видит его")
    agent = desk.agent()
    await agent.send(f"/kb {number} second-monitor")
    assert number in agent.last.text and "(in ru)" in agent.last.text
    article = olga.last
    assert number in article.text and "поддержка отправила вам статью" in article.text
    assert "монитор" in article.text.lower()
    assert "In progress" in desk.card(number).text  # a first response, like a reply

    await agent.send(f"/kb {number} no-such-article")
    assert "There is no article no-such-article" in agent.last.text and "office-wifi" in agent.last.text
    await agent.send(f"/kb {number} office-wifi and more")
    assert "Usage: /kb" in agent.last.text
    await agent.send("/kb")
    assert "Usage: /kb" in agent.last.text
    await agent.send("/kb INC-424242 office-wifi")
    assert "There is no ticket INC-424242" in agent.last.text
    await agent.send_in(STAFF, f"/kb {number} vpn-setup")  # in the staff chat: answered there
    assert "sent to the customer" in desk.staff.last.text and "VPN" in olga.last.text


async def test_kb_without_articles_says_how_to_get_them(desk: Desk) -> None:
    ann = desk.person(501, "Ann")
    number = await register(ann, "Please install Photoshop on my work computer")
    agent = desk.agent()
    before = len(ann.chat.from_bot)
    await agent.send(f"/kb {number} office-wifi")
    assert "There are no articles" in agent.last.text and "KB_DIR" in agent.last.text
    assert len(ann.chat.from_bot) == before


async def test_help_shows_kb_to_agents_only(desk: Desk) -> None:
    agent, ann = desk.agent(), desk.person(501, "Ann")
    await agent.send("/help")
    assert "/kb N ARTICLE" in agent.last.text
    await ann.send("/help")
    assert "/kb" not in ann.last.text


# -- who may use it --------------------------------------------------------------------------------------


async def test_kb_from_strangers_and_customers_does_nothing(desk: Desk) -> None:
    with_articles(desk)
    ann, eve = desk.person(501, "Ann"), desk.person(666, "Eve", username="eve")
    number = await register(ann, "Please install Photoshop on my work computer")
    card, before, staff_before = desk.card(number), len(ann.chat.from_bot), len(desk.staff.from_bot)
    for who in (eve, ann):  # a stranger, and the ticket's own customer
        await who.send(f"/kb {number} office-wifi")
        assert UNKNOWN in who.last.text
        await who.send_in(STAFF, f"/kb {number} office-wifi")
    assert len(ann.chat.from_bot) == before + 1  # her own "unknown command" only
    assert len(desk.staff.from_bot) == staff_before and "New" in card.text


@pytest.mark.parametrize(
    "value",
    ["open.vpn-setup", "open.", "solved", "list", "open.office-wifi.x", "nonsense", "open." + "x" * 40],
)
async def test_forged_offer_buttons_are_answered_politely(desk: Desk, value: str) -> None:
    with_articles(desk)
    ann = desk.person(504, "Ann")
    await ann.send(WIFI)
    offer = ann.last
    token = offer.data_of(WIFI_TITLE).split(":")[1]
    before = len(ann.chat.from_bot)
    answer = await ann.press_data(offer, f"i:{token}:{value}")
    assert answer["text"], value  # a note, never a spinning button
    assert all("Glad it helped" not in m.text for m in ann.chat.from_bot[before:])
    await ann.press(offer, WIFI_TITLE)  # the offer still works
    assert "Did this article solve it?" in ann.last.text


async def test_old_offer_buttons_after_the_end_are_out_of_date(desk: Desk) -> None:
    with_articles(desk)
    ann, eve = desk.person(505, "Ann"), desk.person(666, "Eve")
    await ann.send(WIFI)
    offer = ann.last
    await ann.press(offer, WIFI_TITLE)
    question = ann.last
    await ann.press(question, "✅ This solved it")
    again = await ann.press(question, "✅ This solved it")
    assert "out of date" in again["text"]
    assert "out of date" in (await ann.press(offer, WIFI_TITLE))["text"]
    assert "out of date" in (await eve.press_data(offer, offer.data_of(WIFI_TITLE)))["text"]  # not her intake
    agent = desk.agent()
    await agent.send("/stats")
    assert "solved it 1 (100%)" in agent.last.text  # counted once


# -- the honest promise ----------------------------------------------------------------------------------


async def test_out_of_hours_customers_are_told_when_the_desk_opens(desk: Desk) -> None:
    bob = desk.person(502, "Bob")
    earlier = await register(bob, "The label printer in the warehouse is jammed and prints nothing at all")
    assert "First response: within 4 h" in bob.last.text  # around the clock: the plain target
    day = (datetime.now(UTC).weekday() + 2) % 7  # open only the day after tomorrow: closed all through the test
    hours = f"{('Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun')[day]} 09:00-18:00"
    desk.policy = DeskPolicy(agent_ids=frozenset(AGENTS), staff_chat_id=STAFF, business_hours=hours, timezone="UTC")
    desk.restart()

    ann = desk.person(501, "Ann")
    await ann.send("Please install Photoshop on my work computer")
    assert ann.last.text.startswith("🌙 The service desk is closed now and opens")
    number = await finish(ann)
    assert "First response: by " in ann.last.text and "(UTC)" in ann.last.text
    assert "within" not in ann.last.text and number in desk.card(number).text
    assert sum("closed now" in m.text for m in ann.chat.from_bot) == 1

    await bob.send("It now also shows error 13.20")
    assert any("closed now" in m.text for m in bob.chat.from_bot[-2:])
    chooser = bob.chat.find("Which one")
    assert earlier in chooser.buttons[0]
    await bob.press(chooser, chooser.buttons[0])
    assert "Added to" in bob.last.text
    await bob.send("And error 13.21")  # told once per closed spell and day
    assert sum("closed now" in m.text for m in bob.chat.from_bot) == 1

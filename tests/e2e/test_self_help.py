"""Self-help and the honest promise through the Bot API stand-in: the real bot process with KB_DIR.

Articles offered before the form: "This solved it" ends with nothing registered, "I still need help"
registers with the description already typed; `/kb N NAME` in the customer's language; /stats counts
them; strangers' /kb and forged offer buttons change nothing. With BUSINESS_HOURS set and the desk
closed, the customer is told when it opens and promised the first response by the due time the card
shows; a customer writing to an open ticket out of hours is told too.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.e2e.test_agents import FAST, NUMBER, UNKNOWN, card_of, register

pytestmark = pytest.mark.e2e

SAMPLE = Path(__file__).resolve().parents[2] / "docs" / "kb-sample"
KB = {**FAST, "KB_DIR": str(SAMPLE)}
WIFI = "How do I connect to the office Wi-Fi?"
WIFI_TITLE = "📄 Connect to the office Wi-Fi"
VPN_RU = "как подключиться к vpn из дома?"
STILL_RU = "🙋 Мне всё ещё нужна помощь"
DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


async def finish(user, q) -> str:
    """Walk on from the question `q` with the first offered answers (English or Russian); the number."""
    for _ in range(15):
        if "Registered" in (q.text or "") or "Зарегистрирована" in (q.text or ""):
            return NUMBER.search(q.text).group(0)
        confirm = next((b for b in q.buttons if b in ("✅ Confirm", "✅ Подтвердить")), None)
        skip = next((b for b in ("Skip", "Пропустить") if b in user.keyboard), None)
        if confirm:
            await user.press(q, confirm)
        elif skip:
            await user.press_reply_button(skip)
        elif q.buttons:
            await user.press(q, q.buttons[0])
        q = await user.next_message(timeout=30)
    raise AssertionError("the intake did not finish")


async def test_articles_solved_still_need_help_kb_and_stats(bot_api, bot_factory) -> None:
    await bot_factory.start(env=KB)
    staff, agent = bot_factory.staff, bot_api.user(7001)
    ann = bot_api.user(501, "Ann", language_code="en")
    vera = bot_api.user(502, "Вера", language_code="ru")
    eve = bot_api.user(666, "Eve", language_code="en")

    # Ann: the article answers her question; nothing is registered
    await ann.send(WIFI)
    offer = await ann.wait_for("These articles may answer your question", timeout=30)
    assert offer.buttons[0] == WIFI_TITLE and "🙋 I still need help" in offer.buttons
    forged = await ann.press_data(offer, offer.button(WIFI_TITLE)["callback_data"].replace("office-wifi", "vpn-setup"))
    assert (await forged.answer())["text"]  # answered politely; no article was opened
    await ann.press(offer, WIFI_TITLE)
    await ann.wait_for("Office-Corp", timeout=15)
    question = await ann.wait_for("Did this article solve it?", timeout=15)
    await ann.press(question, "✅ This solved it")
    await ann.wait_for("Nothing was registered", timeout=15)
    again = await ann.press(question, "✅ This solved it")
    assert "out of date" in (await again.answer())["text"]

    # Vera: the article does not help; the form goes on with what she typed, in Russian
    await vera.send(VPN_RU)
    offer = await vera.wait_for("Возможно, ответ есть в этих статьях", timeout=30)
    await vera.press(offer, STILL_RU)
    number = await finish(vera, await vera.wait_for("описание сохранено", timeout=15))
    card = await card_of(staff, number)
    assert VPN_RU in card.text
    assert not any("Wi-Fi" in (m.text or "") for m in staff.messages)  # Ann's question never reached the staff

    # /kb: the article to Vera in Russian; a stranger's /kb changes nothing
    await eve.send(f"/kb {number} office-wifi")
    assert UNKNOWN in (await eve.next_message(timeout=15)).text
    await agent.send(f"/kb {number} vpn-setup")
    sent = await agent.wait_for("sent to the customer", timeout=15)
    assert number in sent.text and "(in ru)" in sent.text
    article = await vera.wait_for("поддержка отправила вам статью", timeout=15)
    assert number in article.text and "VPN" in article.text
    await agent.send(f"/kb {number} no-such-article")
    assert "There is no article no-such-article" in (await agent.next_message(timeout=15)).text

    await agent.send("/stats")
    stats = await agent.wait_for("Self-help", timeout=30)
    assert "solved it 1 (50%)" in stats.content and "still needed help 1" in stats.content
    assert "sent by agents 1" in stats.content


def closed_today() -> tuple[str, str]:
    """BUSINESS_HOURS open only the day after tomorrow (UTC), so the desk is closed throughout the test
    (even across midnight); and the day's name."""
    day = (datetime.now(UTC).weekday() + 2) % 7
    return f"{DAYS[day]} 09:00-18:00", WEEKDAYS[day]


async def test_out_of_hours_notice_and_a_promise_from_the_working_calendar(bot_api, bot_factory) -> None:
    hours, opening_day = closed_today()
    ann = bot_api.user(501, "Ann", language_code="en")
    bob = bot_api.user(502, "Bob", language_code="en")
    # Bob's ticket is registered while the desk works around the clock
    bot = await bot_factory.start(env=FAST)
    earlier = await register(bob, "The label printer in the warehouse is jammed and prints nothing at all")
    await bot.terminate()

    await bot_factory.start(env={**FAST, "BUSINESS_HOURS": hours, "TIMEZONE": "UTC"})
    await ann.send("Please install Photoshop on my work computer")
    closed = await ann.wait_for("The service desk is closed now", timeout=30)
    assert "09:00 (UTC)" in closed.text and (opening_day in closed.text or "tomorrow" in closed.text)
    number = await finish(ann, closed)
    done = await ann.wait_for(number, predicate=lambda m: "Registered" in (m.text or ""), include_seen=True)
    card = await card_of(bot_factory.staff, number)
    due = re.search(r"first response by (\d\d)\.(\d\d)\.(\d{4}) (\d\d:\d\d)", card.text)
    assert due is not None, card.text
    day, month, year, at = due.groups()
    response = re.search(r"First response: (.+)", done.text).group(1)
    assert response.startswith("by ") and f"{at} (UTC)" in response, response  # the card's, not "within 4 h"
    weekday = WEEKDAYS[datetime(int(year), int(month), int(day)).weekday()]
    assert weekday in response or f"{day}.{month}" in response or "tomorrow" in response, response
    assert sum("closed now" in (m.text or "") for m in ann.messages) == 1  # told once

    # Bob writes about his open ticket out of hours: it is added, and he is told when someone reads it
    await bob.send("It now also shows error 13.20")
    chooser = await bob.wait_for("Which one is this message about?", timeout=15)
    note = await bob.wait_for("The service desk is closed now", timeout=15)
    assert earlier in chooser.buttons[0]
    await bob.press(chooser, chooser.buttons[0])
    await bob.wait_for("added to", timeout=15)
    assert "09:00 (UTC)" in note.text
    assert NUMBER.search(done.text).group(0) == number


def test_the_weekday_helper_is_closed_now() -> None:
    """The test's premise: the calendar it sets is closed at this moment and opens within the week."""
    from helpdesk.worktime import WorkCalendar

    hours, _ = closed_today()
    calendar = WorkCalendar.parse(hours, "UTC")
    now = datetime.now(UTC)
    assert not calendar.is_working(now) and calendar.next_opening(now) - now < timedelta(days=3)

"""Customer intake end to end: the real bot process, the Bot API stand-in, SQLite and PostgreSQL.

What the handlers answer to odd input, /lang, /help and blocking is checked in-process
(tests/handlers/test_customers.py); here is what needs the process: polling, delivery, restarts (a
language chosen with /lang is still the customer's after one).
"""

from __future__ import annotations

import re

import pytest

from tests.conftest import ON_EACH_RUNTIME, ON_EACH_RUNTIME_AND_DATABASE, USER_AGENTS
from tests.support.database_state import wait_outbox_settled

pytestmark = pytest.mark.e2e

FAST = {"OUTBOX_PRIVATE_INTERVAL": "20ms"}
NUMBER = re.compile(r"\b(INC|REQ)-\d{6}\b")


async def answer(user, message, label):
    """Press a button on a bot message and return the bot's next message."""
    await user.press(message, label)
    return await user.next_message(timeout=15)


async def run_english_intake(user, *, with_photo: bool = True):
    await user.send("The label printer in the warehouse is jammed and prints nothing at all")
    q = await user.next_message(timeout=30)
    assert "Which service or device is affected?" in q.text
    q = await answer(user, q, "Printer or scanner")
    assert "Who is affected?" in q.text
    q = await answer(user, q, "My team or department")
    assert "How much does it block your work?" in q.text
    q = await answer(user, q, "Work has stopped")
    assert "screenshots, photos or documents" in q.text
    if with_photo:
        await user.send_photo(caption="the jam")
        q = await user.next_message()
        assert "Received: 1 file" in q.text
        q = await answer(user, q, "✅ Done")
    else:
        q = await answer(user, q, "Skip")
    assert "call back" in q.text
    assert "📱 Share my phone number" in user.keyboard
    await user.press_reply_button("📱 Share my phone number")
    summary = await user.next_message()
    assert "Please check your request" in summary.text
    assert "Printer or scanner" in summary.text and "Work has stopped" in summary.text
    done = await answer(user, summary, "✅ Confirm")
    return done


@ON_EACH_RUNTIME_AND_DATABASE
async def test_english_intake_with_attachment_then_status(bot_api, bot_factory, database_url, bot_runtime):
    await bot_factory.start(database_url, env=FAST)
    ann = bot_api.user(501, "Ann", username="ann", language_code="en")
    done = await run_english_intake(ann)
    number = NUMBER.search(done.text).group(0)
    assert number.startswith("INC-")
    assert "Type: Incident" in done.text
    assert "Category: Hardware" in done.text
    assert "Priority: P2" in done.text
    assert "First response: within 30 min" in done.text

    # the staff chat got the card and a copy of the photo under it
    staff = bot_api.chat(bot_factory.staff_chat_id)
    await bot_api.wait_until(lambda: any(number in (m.content or "") for m in staff.bot_messages), timeout=15)
    await bot_api.wait_until(lambda: any(m.kind == "photo" for m in staff.bot_messages), timeout=15)

    # the Status button and /status
    status = await answer(ann, done, f"🔎 Status {number}")
    assert number in status.text and "State: New" in status.text and "History" in status.text
    await ann.command("status", number.lower())
    again = await ann.next_message()
    assert number in again.text and "Priority: P2" in again.text
    await ann.command("my")
    listing = await ann.next_message()
    assert number in listing.text and "Open" in listing.text
    # the runtime's own HTTP client fetched the updates and sent the answers
    polls = [c for c in bot_api.calls if c.method in ("getUpdates", "sendMessage")]
    assert polls and all(USER_AGENTS[bot_runtime] in (c.user_agent or "") for c in polls)


@ON_EACH_RUNTIME
async def test_a_reply_to_the_registration_goes_to_that_ticket(bot_api, bot_factory, bot_runtime):
    """A Telegram reply to the bot's "Registered" message is added to that ticket, without the chooser (a
    plain message would get it: the ticket is open and does not wait for her); docs/customer-messages.md.
    The other messages about a ticket (/status, notices, agents' words): tests/handlers/test_customers.py."""
    await bot_factory.start(env=FAST)
    ann = bot_api.user(511, "Ann", language_code="en")
    done = await run_english_intake(ann, with_photo=False)
    number = NUMBER.search(done.text).group(0)
    staff = bot_api.chat(bot_factory.staff_chat_id)

    await ann.send("It is the printer near room 204", reply_to=done)
    added = await ann.wait_for("Added to", timeout=20)
    assert number in added.text
    await bot_api.wait_until(lambda: any("room 204" in (m.content or "") for m in staff.bot_messages), timeout=20)
    relay = next(m for m in staff.bot_messages if "room 204" in (m.content or ""))
    assert number in relay.content and "message from Ann" in relay.content
    assert not any("Which one is this message about?" in m.content for m in ann.messages)


@ON_EACH_RUNTIME_AND_DATABASE
async def test_russian_intake_and_foreign_number(bot_api, bot_factory, database_url, bot_runtime):
    await bot_factory.start(database_url, env=FAST)
    olga = bot_api.user(601, "Ольга", language_code="ru")
    await olga.send("/new")
    q = await olga.next_message(timeout=30)
    assert "Что случилось" in q.text
    await olga.send("хочу чтобы мне поставили фотошоп на рабочий комп")
    q = await olga.next_message()
    assert "К чему относится ваша просьба" in q.text
    q = await answer(olga, q, "Установить программу")
    assert "Кого это затрагивает" in q.text
    q = await answer(olga, q, "Только я")
    q = await answer(olga, q, "Может подождать")
    await olga.send_document("brief.pdf")
    q = await olga.next_message()
    assert "Получен 1 файл" in q.text
    q = await answer(olga, q, "✅ Готово")
    await olga.send("+7 900 000-00-00")
    summary = await olga.next_message()
    assert "Проверьте заявку" in summary.text and "Запрос на обслуживание" in summary.text
    done = await answer(olga, summary, "✅ Подтвердить")
    number = NUMBER.search(done.text).group(0)
    assert number.startswith("REQ-")
    assert "Зарегистрирована заявка" in done.text and "Первый ответ" in done.text

    # another customer asks for Olga's ticket: exactly the reply an unknown number gets
    bob = bot_api.user(602, "Bob", language_code="en")
    await bob.command("status", number)
    foreign = await bob.next_message(timeout=20)
    await bob.command("status", "REQ-999999")
    unknown = await bob.next_message()
    assert foreign.text.replace(number, "N") == unknown.text.replace("REQ-999999", "N")
    assert "can't find" in foreign.text
    press = await bob.press_data(done, "st:1")  # Olga's ticket is the first row of a fresh database
    answered = await press.answer()
    assert number not in (answered.get("text") or "")


# the customer presses a button while the bot is down: when the restart takes longer than Telegram keeps a
# callback query open, the late answer to it is refused (the answer is cosmetic: the press itself is kept)
@pytest.mark.refusals("answerCallbackQuery 400 Bad Request: query is too old")
@ON_EACH_RUNTIME_AND_DATABASE
async def test_kill_and_restart_mid_conversation_keeps_every_answer(bot_api, bot_factory, database_url, bot_runtime):
    bot = await bot_factory.start(database_url, env=FAST)
    lee = bot_api.user(801, "Lee", language_code="en")
    await lee.send("My laptop does not turn on, the power light stays off")
    q = await lee.next_message(timeout=30)
    q = await answer(lee, q, "Computer or laptop")
    q = await answer(lee, q, "Only me")
    assert "How much does it block your work?" in q.text
    await wait_outbox_settled(database_url)  # the send is recorded (a kill before that is the crash test's job)
    bot.kill()
    # the customer answers while the bot is down; the update waits at Telegram
    await lee.press(q, "Work has stopped")
    bot = await bot_factory.start(database_url, env=FAST)
    q = await lee.next_message(timeout=30)
    assert "screenshots" in q.text
    q = await answer(lee, q, "Skip")
    await wait_outbox_settled(database_url)
    bot.kill()
    bot = await bot_factory.start(database_url, env=FAST)
    await lee.send("/new")
    q = await lee.next_message(timeout=30)
    assert "unfinished request" in q.text and "call back" in q.text
    await lee.send("ext. 4411")
    summary = await lee.next_message()
    for expected in ("Computer or laptop", "Only me", "Work has stopped", "ext. 4411", "laptop does not turn on"):
        assert expected in summary.text
    done = await answer(lee, summary, "✅ Confirm")
    assert NUMBER.search(done.text)


async def test_language_choice_is_kept_across_restarts(bot_api, bot_factory, database_url):
    bot = await bot_factory.start(database_url, env=FAST)
    max_ = bot_api.user(901, "Max", language_code="de")
    await max_.start()
    welcome = await max_.next_message(timeout=30)
    assert "Hello, Max" in welcome.text  # unsupported Telegram language → DEFAULT_LANGUAGE
    await max_.command("lang")
    choose = await max_.next_message()
    assert choose.text == "Choose your language:" and choose.buttons == ["English", "Русский"]
    changed = await answer(max_, choose, "Русский")
    assert changed.text == "Язык переключён на русский."
    await max_.command("help")
    help_ru = await max_.next_message()
    assert "Чем я могу помочь" in help_ru.text and "/lang — сменить язык" in help_ru.text
    assert "Команды агента" not in help_ru.text
    # a Russian Telegram user who prefers English
    olga = bot_api.user(902, "Ольга", language_code="ru")
    await olga.command("lang", "en")
    assert (await olga.next_message(timeout=30)).text == "Language set to English."

    await wait_outbox_settled(database_url)
    bot.kill()
    await bot_factory.start(database_url, env=FAST)

    # the choices were stored: a new process answers each in the language they chose, not Telegram's
    await max_.start()
    assert "Здравствуйте, Max" in (await max_.next_message(timeout=30)).text
    await olga.command("help")
    help_en = await olga.next_message(timeout=30)
    assert "How I can help" in help_en.text and "/lang — change the language" in help_en.text
    await max_.command("lang", "en")
    assert (await max_.next_message()).text == "Language set to English."
    await max_.command("help")
    assert "How I can help" in (await max_.next_message()).text


async def test_an_album_of_photos_is_acknowledged_once_not_per_photo(bot_api, bot_factory):
    await bot_factory.start(env={"OUTBOX_PRIVATE_INTERVAL": "1s"})
    ivy = bot_api.user(961, "Ivy", language_code="en")
    await ivy.send("The projector in the meeting room shows no picture at all")
    q = await ivy.next_message(timeout=30)
    q = await answer(ivy, q, "Meeting room equipment")
    q = await answer(ivy, q, "Only me")
    q = await answer(ivy, q, "It can wait")
    assert "screenshots" in q.text
    for n in range(6):
        await ivy.send_photo(caption=f"photo {n}")
    last = await ivy.wait_for("Received: 6 files", timeout=20)
    contact = await answer(ivy, last, "✅ Done")
    assert "call back" in contact.text
    # the chat's messages go out in order: a receipt for any of the photos came before this question
    receipts = [m for m in ivy.messages if "Received:" in m.content]
    assert len(receipts) < 6
    assert receipts[-1].id == last.id

"""Customers in a private chat, in-process: the menu, the intake, status, language, odd input, blocking."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlmodel import select

from helpdesk import customer_messages
from helpdesk.clock import now_utc
from storage import repos
from storage.models import Customer
from tests.handlers.harness import STAFF, Desk, Person, Sent

NUMBER = re.compile(r"\b(?:INC|REQ)-\d{6}\b")


async def register(person: Person, description: str) -> str:
    """Walk the intake with the first offered answers; returns the ticket number."""
    await person.send(description)
    for _ in range(12):
        question = person.last
        if "Registered" in question.text or "Зарегистрирована" in question.text:
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


async def test_start_menu_then_an_english_intake_to_a_numbered_ticket(desk: Desk) -> None:
    ann = desk.person(501, "Ann")
    await ann.send("/start")
    assert "Hello, Ann" in ann.last.text and ann.last.buttons[0] == "📝 New request"
    await ann.press(ann.last, "📝 New request")
    assert "What happened" in ann.last.text
    await ann.send("The label printer in the warehouse is jammed and prints nothing at all")
    assert "Which service or device is affected?" in ann.last.text
    await ann.press(ann.last, "Printer or scanner")
    assert "Who is affected?" in ann.last.text
    await ann.press(ann.last, "My team or department")
    await ann.press(ann.last, "Work has stopped")
    assert "screenshots, photos or documents" in ann.last.text
    await ann.send_photo(caption="the jam")
    assert "Received: 1 file" in ann.last.text
    await ann.press(ann.last, "✅ Done")
    assert "call back" in ann.last.text and ann.last.reply_markup["keyboard"][0][0]["request_contact"] is True
    await ann.write({"contact": {"phone_number": "+44 20 7946 0000", "first_name": "Ann", "user_id": 501}})
    summary = ann.last
    assert "Please check your request" in summary.text and "Work has stopped" in summary.text
    await ann.press(summary, "✅ Confirm")
    done = ann.last
    number = NUMBER.search(done.text).group(0)
    assert number.startswith("INC-") and "Priority: P2" in done.text and "First response: within 30 min" in done.text
    assert "🙋 Take" in desk.card(number).buttons
    assert any(m.kind == "copy" or m.kind == "photo" for m in desk.staff.from_bot)  # the photo under the card

    await ann.press(done, f"🔎 Status {number}")
    assert number in ann.last.text and "State: New" in ann.last.text
    await ann.send(f"/status {number.lower()}")
    assert "Priority: P2" in ann.last.text
    await ann.send("/my")
    assert number in ann.last.text and "Open" in ann.last.text


async def test_a_russian_request_and_a_foreign_number_that_reads_like_an_unknown_one(desk: Desk) -> None:
    olga = desk.person(601, "Ольга", lang="ru")
    await olga.send("/new")
    assert "Что случилось" in olga.last.text
    number = await register(olga, "хочу чтобы мне поставили фотошоп на рабочий комп")
    assert number.startswith("REQ-") and "Первый ответ" in olga.last.text

    bob = desk.person(602, "Bob")
    await bob.send(f"/status {number}")
    foreign = bob.last.text
    await bob.send("/status REQ-999999")
    assert foreign.replace(number, "N") == bob.last.text.replace("REQ-999999", "N")
    answer = await bob.press_data(bob.last, "st:1")  # Olga's ticket is the first of a fresh database
    assert answer["text"] == "This button is out of date." and number not in answer["text"]  # as any stale one


async def test_a_sticker_with_nothing_open_says_how_to_report_a_problem(desk: Desk) -> None:
    olga = desk.person(702, "Ольга", lang="ru")
    location = {"location": {"latitude": 55.75, "longitude": 37.61}}
    await olga.write(location)
    assert olga.last.text.startswith("Стикеры, геопозицию, опросы и т. п. я использовать не могу")
    assert "нажмите «📝 Новая заявка»" in olga.last.text and "вопрос ниже" not in olga.last.text
    await olga.press(olga.last, "📝 Новая заявка")
    await olga.write(location)  # with a question asked, it is the question that is repeated
    assert "Ответьте, пожалуйста, на вопрос ниже" in olga.last.text and "Что случилось" in olga.last.text


async def test_odd_input_at_every_step_keeps_the_conversation(desk: Desk) -> None:
    kim = desk.person(701, "Kim")
    await kim.write({"sticker": {"file_id": "s", "file_unique_id": "s", "type": "regular", "width": 1, "height": 1}})
    first = kim.last  # no question asked yet: how to report a problem (was "answer the question below")
    assert "can't use stickers" in first.text and "describe it in a message" in first.text
    assert "question below" not in first.text and "📝 New request" in first.buttons
    await kim.send("Wi-Fi keeps dropping in the meeting room since this morning")
    service = kim.last
    await kim.write({"voice": {"file_id": "v", "file_unique_id": "v", "duration": 1}})
    assert "I need a text answer" in kim.last.text and "Which service or device" in kim.last.text
    await kim.press(kim.last, "Wi-Fi")
    who = kim.last
    await kim.write({"document": {"file_id": "d", "file_unique_id": "d", "file_name": "log.txt"}})
    assert "I kept the file" in kim.last.text and "Who is affected?" in kim.last.text  # attached, not lost
    answer = await kim.press(service, "Internet")  # a button of an earlier question
    assert "earlier message" in answer["text"] and "Who is affected?" in kim.last.text
    forged = await kim.press_data(who, "i:zzzzzz:organization")  # forged: refused like an outdated button
    assert "earlier message" in forged["text"] and "Who is affected?" in kim.last.text
    await kim.send("/frobnicate")
    assert "don't know that command" in kim.last.text and "Who is affected?" in kim.last.text
    await kim.send("<b>bold</b> & <script>alert(1)</script>")  # free text at a button step, escaped back
    assert "Who is affected?" in kim.last.text
    await kim.press(kim.last, "Only me")
    await kim.press(kim.last, "Work has stopped")
    await kim.press(kim.last, "✅ Done")  # the log file is attached already
    await kim.send("x" * 10_000)
    assert "shorter" in kim.last.text.lower() or "under" in kim.last.text
    await kim.send("Skip")
    assert "Please check your request" in kim.last.text and "Only me" in kim.last.text
    assert "Attachments: 1" in kim.last.text
    assert "whole organisation" not in kim.last.text  # the forged answer never reached the draft


async def test_restart_in_the_middle_of_an_intake_continues_where_it_stopped(desk: Desk) -> None:
    lee = desk.person(801, "Lee")
    await lee.send("My laptop does not turn on, the power light stays off")
    await lee.press(lee.last, "Computer or laptop")
    await lee.press(lee.last, "Only me")
    desk.restart()  # a new process on the same database
    await lee.press(lee.last, "Work has stopped")
    assert "screenshots" in lee.last.text
    await lee.send("/new")
    assert "unfinished request" in lee.last.text
    await lee.send("/start")  # the same: not the bare question as if out of nowhere
    assert lee.last.text.startswith("You have an unfinished request") and "screenshots" in lee.last.text


async def test_language_switch_and_help(desk: Desk) -> None:
    max_ = desk.person(901, "Max", lang="de")
    await max_.send("/start")
    assert "Hello, Max" in max_.last.text  # an unsupported Telegram language: DEFAULT_LANGUAGE
    await max_.send("/lang")
    await max_.press(max_.last, "Русский")
    assert "русский" in max_.last.text
    await max_.send("/help")
    assert "Чем я могу помочь" in max_.last.text and "Команды агента" not in max_.last.text
    await max_.send("/lang en")
    assert max_.last.text == "Language set to English."
    await max_.send("/lang Русский")  # the language by its own name, as the chooser's button reads
    assert max_.last.text == "Язык переключён на русский."
    await max_.send("/lang english")
    assert max_.last.text == "Language set to English."
    await max_.send("/help")
    assert "How I can help" in max_.last.text


async def test_a_language_chosen_in_the_middle_of_the_form_is_one_message_and_the_chooser_is_answered(
    desk: Desk,
) -> None:
    ann = desk.person(501, "Ann")
    await ann.send("The label printer in the warehouse is jammed and prints nothing at all")
    await ann.send("/lang")
    chooser = ann.last
    ann.new()
    await ann.press(chooser, "Русский")
    (changed,) = ann.new()  # the confirmation above the open question, now in Russian, with its buttons
    assert changed.text.startswith("Язык переключён на русский.") and "Какой сервис или устройство" in changed.text
    assert "Принтер или сканер" in changed.buttons and chooser.buttons == []
    await ann.send("/cancel")
    await ann.send("/lang en")  # no form open: the confirmation alone
    assert ann.last.text == "Language set to English."


async def test_blocking_the_bot_marks_the_customer_unreachable_until_they_write(desk: Desk) -> None:
    zoe = desk.person(951, "Zoe")
    await zoe.send("/start")

    async def unreachable() -> bool:
        async with desk.db.read() as session:
            customer = await repos.customer_by_telegram_id(session, zoe.id)
            return customer is not None and customer.unreachable_since is not None

    await zoe.blocks_the_bot()
    assert await unreachable()
    await zoe.blocks_the_bot(blocked=False)
    assert not await unreachable()
    await zoe.blocks_the_bot()
    await zoe.send("/my")
    assert "no tickets" in zoe.last.text and not await unreachable()


async def test_commands_for_another_bot_and_group_chatter_are_ignored(desk: Desk) -> None:
    ann = desk.person(501, "Ann")
    await ann.send_in(-100900, "/new@otherbot")
    await ann.send_in(-100900, "/new")
    await ann.send_in(-100900, "hello everyone")
    assert desk.telegram.chat(-100900).from_bot == []
    await ann.send("/new@intake_test_bot")
    assert "What happened" in ann.last.text
    await ann.send("/start@otherbot")
    assert "don't know that command" in ann.last.text
    async with desk.db.read() as session:
        assert [c.telegram_id for c in (await session.exec(select(Customer))).all()] == [501]


async def test_markup_in_a_description_reads_as_typed_everywhere_it_is_shown(desk: Desk) -> None:
    """User text is escaped in every view: the confirmation, /status, /my, the staff card."""
    typed = 'Printer "HP" shows <b>bold</b> & <script>alert(1)</script> when 1 < 2 — nothing prints'
    ivy = desk.person(601, "Ivy")
    number = await register(ivy, typed)
    await ivy.send(f"/status {number}")
    assert typed in ivy.last.text
    await ivy.send("/my")
    assert 'Printer "HP" shows <b>bold</b>' in ivy.last.text
    assert typed in desk.card(number).text


async def test_a_first_hello_is_greeted_and_the_question_asked_instead_of_a_form_about_nothing(desk: Desk) -> None:
    ann = desk.person(501, "Ann")
    await ann.send("Hello there! 👋")
    greeting = ann.last
    assert greeting.text.startswith("Hello! 👋") and "What happened, or what do you need?" in greeting.text
    assert "broken" not in greeting.text and greeting.buttons == ["✖ Cancel"]
    number = await register(ann, "The label printer in the warehouse is jammed and prints nothing at all")
    await ann.send(f"/status {number}")
    assert "Description: The label printer" in ann.last.text and "Hello" not in ann.last.text
    assert not any("Hello there" in text for text in desk.staff.texts())  # the staff never saw the greeting

    await ann.send("/new")
    await ann.send("The printer on floor 3 prints blank pages since this morning")
    await ann.send("Printer or scanner")
    await ann.press(ann.last, ann.last.buttons[0])
    await ann.press(ann.last, ann.last.buttons[0])
    await ann.press(ann.last, "Skip")
    await ann.send("Skip")
    await ann.press(ann.last, "✏️ Edit")
    await ann.press(ann.last, "Description")
    await ann.send("hello")  # editing a description: no greeting in the middle of the form, it is too short
    assert ann.last.text.startswith("That is a bit short") and "Hello!" not in ann.last.text

    olga = desk.person(601, "Ольга", lang="ru")
    await olga.send("Здравствуйте!")
    assert olga.last.text.startswith("Здравствуйте! 👋") and "Что случилось" in olga.last.text
    await olga.send("помогите пожалуйста")
    assert olga.last.text.startswith("Конечно, помогу.") and "Что случилось" in olga.last.text
    max_ = desk.person(602, "Макс", lang="ru")
    await max_.send_photo(caption="Привет")  # the photo is kept; the greeting is no description
    assert max_.last.text.startswith("Файл сохранён и будет приложен к заявке") and "Что случилось" in max_.last.text
    await olga.send("Привет, не работает почта с утра, письма не уходят")  # a greeting with a problem is a problem
    assert "Что случилось" not in olga.last.text


async def test_a_thank_you_with_no_open_ticket_is_answered_and_starts_nothing(desk: Desk) -> None:
    olga = desk.person(601, "Ольга", lang="ru")
    await olga.send("Спасибо большое, всё работает!")
    assert olga.last.text == "Пожалуйста! Если понадобится что-то ещё, просто напишите мне."
    await olga.send("/cancel")
    assert olga.last.text.startswith("Отменять нечего")  # no draft was left behind
    ann = desk.person(501, "Ann")
    await ann.send("thanks!")
    assert ann.last.text.startswith("You're welcome!")
    await ann.send("/my")
    assert "no tickets yet" in ann.last.text and "send /new" in ann.last.text  # no form open: how to begin
    assert ann.last.buttons == ["📝 New request"]
    for ack in ("ok", "👍"):  # an acknowledgement is no request either
        await ann.send(ack)
        assert ann.last.text.startswith("You're welcome!")
    await ann.send("/cancel")
    assert ann.last.text.startswith("There is nothing to cancel")
    assert desk.staff.texts() == []


# -- which ticket a free message is about (docs/customer-messages.md) ----------------------------------


async def register_another(person: Person, description: str) -> str:
    """A second request with one already open (📝 New request from the menu, then the intake)."""
    await person.send("/start")
    await person.press(person.last, "📝 New request")
    return await register(person, description)


def relayed_under(desk: Desk, number: str, text: str) -> Sent:
    """The customer's message as the staff got it: under the ticket's card, naming it."""
    relay = desk.staff.find(text)
    assert number in relay.text and relay.reply_to == desk.card(number).message_id, relay.text
    return relay


async def test_a_reply_to_the_bots_message_about_a_ticket_goes_to_that_ticket(desk: Desk) -> None:
    ann, agent = desk.person(501, "Ann"), desk.agent()
    first = await register(ann, "The label printer in the warehouse is jammed and prints nothing at all")
    registered = ann.chat.find(f"Registered: {first}")
    second = await register_another(ann, "My laptop screen flickers and goes black every few minutes")
    await agent.press(desk.card(first), "🙋 Take")  # neither waits for her: a plain message gets the chooser
    taken = ann.last
    ann.new()

    await ann.reply(registered, "It is the printer near room 204")  # the confirmation of the first
    (added,) = ann.new()
    assert added.text == f"✅ Added to {first}. The support team has been notified."
    assert added.buttons == ["📝 New request"]  # in case it was meant as a new one
    relayed_under(desk, first, "room 204")

    await ann.send(f"/status {second}")
    status = ann.last
    await ann.reply(status, "It flickers more when it is warm")  # the status of the second
    assert [m.text for m in ann.new()[1:]] == [f"✅ Added to {second}. The support team has been notified."]
    relayed_under(desk, second, "more when it is warm")

    await ann.reply(taken, "Thank you, I am at my desk")  # "taken by Agent1", about the first
    assert f"Added to {first}" in ann.last.text
    await agent.reply(desk.card(first), "Which tray is jammed?")
    await ann.reply(ann.chat.find("Which tray is jammed?"), "The lower one")  # an agent's message
    assert f"Added to {first}" in ann.last.text
    relayed_under(desk, first, "The lower one")
    assert not any("Which one is this message about?" in m.text for m in ann.chat.from_bot)

    await agent.send(f"/status {second} cancelled")
    await ann.reply(status, "Now it does not start at all")  # a closed ticket: a new request, as told
    closed, question = ann.new()[-2:]
    assert f"{second} is already closed" in closed.text and "Which service or device" in question.text
    assert not any("does not start at all" in text for text in desk.staff.texts())


async def test_after_choosing_a_ticket_the_conversation_goes_on_until_she_is_quiet_or_it_is_resolved(
    desk: Desk,
) -> None:
    ann, agent = desk.person(501, "Ann"), desk.agent()
    number = await register(ann, "The label printer in the warehouse is jammed and prints nothing at all")
    await agent.press(desk.card(number), "🙋 Take")  # in progress: it does not wait for her
    ann.new()
    await ann.send("It is the printer near room 204")
    (chooser,) = ann.new()
    assert "Which one is this message about?" in chooser.text
    await ann.press(chooser, next(label for label in chooser.buttons if label.startswith(number)))
    assert ann.last.text.startswith(f"✅ Added to {number}")
    ann.new()

    for text in ("It shows error 13.20", "And it smells of burnt paper"):  # asked once, not for every message
        await ann.send(text)
        assert [m.text for m in ann.new()] == [f"✅ Added to {number}. The support team has been notified."]
        relayed_under(desk, number, text)

    async with desk.db.session() as session:  # quiet for longer than a conversation lasts
        customer = await repos.customer_by_telegram_id(session, 501)
        quiet = now_utc() - customer_messages.CONVERSATION_QUIET - timedelta(minutes=1)
        customer.pending = {
            **customer.pending,
            "conversation": {**customer.pending["conversation"], "at": quiet.isoformat()},
        }
    await ann.send("Is anyone coming?")
    (chooser,) = ann.new()
    assert "Which one is this message about?" in chooser.text
    await ann.press(chooser, next(label for label in chooser.buttons if label.startswith(number)))

    await agent.send("/open 501 The scanner on floor 4 jams on every single page")  # another one, by an agent
    other = NUMBER.search(agent.last.text).group(0)
    await agent.send(f"/resolve {number} technical Replaced the fuser and printed a test page.")
    ann.new()
    await ann.send("The scanner is in room 410")  # the printer's is resolved: no conversation goes on about it
    (chooser,) = ann.new()
    assert "Which one is this message about?" in chooser.text and chooser.buttons[0].startswith(other)
    assert not any(number in label for label in chooser.buttons)
    assert not any("room 410" in text for text in desk.staff.texts())


async def test_a_new_request_or_another_tickets_question_ends_the_conversation(desk: Desk) -> None:
    ann, agent = desk.person(501, "Ann"), desk.agent()
    first = await register(ann, "The label printer in the warehouse is jammed and prints nothing at all")
    await agent.reply(desk.card(first), "We are looking into it")
    await ann.reply(ann.last, "Thank you")  # her reply to the agent starts the conversation about the first
    second = await register_another(ann, "My laptop screen flickers and goes black every few minutes")
    ann.new()
    await ann.send("It flickers more when it is warm")  # a new request since: asked again
    (chooser,) = ann.new()
    assert "Which one is this message about?" in chooser.text
    await ann.press(chooser, next(label for label in chooser.buttons if label.startswith(second)))
    await ann.send("And the fan is loud")
    assert ann.last.text.startswith(f"✅ Added to {second}")

    await agent.send_in(STAFF, f"/ask {first} Which tray is jammed?")  # the first now waits for her
    ann.new()
    await ann.send("The lower one")  # an answer to the first, or more about the second? asked
    (chooser,) = ann.new()
    assert "Which one is this message about?" in chooser.text
    await ann.press(chooser, next(label for label in chooser.buttons if label.startswith(first)))
    assert ann.last.text.startswith(f"✅ Thank you! Your answer was added to {first}")
    relayed_under(desk, first, "The lower one")
    await ann.send("It jams on every page")  # then the conversation is about the first
    assert ann.last.text.startswith(f"✅ Added to {first}")
    relayed_under(desk, first, "every page")


async def test_status_with_words_instead_of_a_number_says_so_and_shows_how(desk: Desk) -> None:
    ann = desk.person(501, "Ann")
    await ann.send("/status my printer")
    assert ann.last.text.startswith("“my printer” is not a ticket number. Send it like this: /status INC-000042")
    await ann.send("/status 42 please")  # a number, of nobody's ticket or someone else's: the usual answer
    assert "I can't find a ticket with the number 42 among your tickets" in ann.last.text
    await ann.send("/status 42")
    assert "I can't find a ticket with the number 42 among your tickets" in ann.last.text
    olga = desk.person(601, "Ольга", lang="ru")
    await olga.send("/status <b>заявка</b>")
    assert olga.last.text.startswith("«<b>заявка</b>» — это не номер заявки")  # escaped: shown as typed


async def test_new_with_the_problem_on_the_same_line_takes_it_as_the_description(desk: Desk) -> None:
    ann = desk.person(501, "Ann")
    await ann.send("/new the label printer in the warehouse is jammed and prints nothing")
    assert "What happened" not in ann.last.text and "Which service or device is affected?" in ann.last.text
    await ann.send("/new")  # with the request under way: the same question, said to be the unfinished one
    assert "unfinished request" in ann.last.text and "Which service or device" in ann.last.text
    number = await register(ann, "Printer or scanner")
    await ann.send(f"/status {number} please")  # words after the number do not hide the ticket
    assert "Description: the label printer in the warehouse is jammed" in ann.last.text


async def test_new_with_words_while_the_form_waits_for_its_description_takes_them(desk: Desk) -> None:
    """A first "/new …" too long, then "/new …" again: the open form asks for the description, and the words
    are it; they were dropped and the question asked again."""
    olga = desk.person(601, "Ольга", lang="ru")
    await olga.send("/new " + "очень длинно " * 300)
    assert "длиннее 3000 символов" in olga.last.text and "Что случилось" in olga.last.text
    await olga.send("/new принтер в бухгалтерии не печатает совсем")
    assert "Какой сервис или устройство" in olga.last.text and "Что случилось" not in olga.last.text
    await olga.send("/new сканер тоже сломан")  # further on: the form goes on where it was, as before
    assert "незавершённая заявка" in olga.last.text and "Какой сервис или устройство" in olga.last.text
    number = await register(olga, "Принтер или сканер")
    await olga.send(f"/status {number}")
    assert "Описание: принтер в бухгалтерии не печатает совсем" in olga.last.text


async def test_thanks_in_reply_to_a_closed_ticket_is_not_announced_as_a_new_request(desk: Desk) -> None:
    olga, agent = desk.person(601, "Ольга", lang="ru"), desk.agent()
    number = await register(olga, "Принтер на втором этаже зажевал бумагу и не печатает")
    await agent.send(f"/resolve {number} technical заменили ролик подачи")
    await agent.send(f"/close {number}")
    closed = olga.chat.find("закрыта")
    olga.new()
    await olga.reply(closed, "Спасибо!")
    assert [m.text for m in olga.new()] == ["Пожалуйста! Если понадобится что-то ещё, просто напишите мне."]
    await olga.reply(closed, "Опять зажевал бумагу, снова не печатает")  # words about a problem: a new request
    said = [m.text for m in olga.new()]
    assert "уже закрыта" in said[0] and "Какой сервис или устройство" in said[-1]


# -- side commands while the intake form is open -------------------------------------------------------


async def test_my_status_and_help_during_the_form_answer_then_ask_the_open_question_again(desk: Desk) -> None:
    kim = desk.person(701, "Kim")
    number = await register(kim, "The label printer in the warehouse is jammed and prints nothing at all")
    await kim.send("/new Wi-Fi keeps dropping in the meeting room since this morning")
    await kim.press(kim.last, "Wi-Fi")
    assert "Who is affected?" in kim.last.text
    kim.new()

    await kim.send("/my")
    listing, again = kim.new()
    assert number in listing.text and "Open" in listing.text
    assert again.text.startswith("↩️ Back to your request") and "Who is affected?" in again.text
    assert "Only me" in again.buttons

    await kim.send(f"/status {number}")
    status, again = kim.new()
    assert "State: New" in status.text and "Who is affected?" in again.text and "Only me" in again.buttons
    await kim.press(status, f"🔎 Status {number}")
    assert kim.new() == []  # the card refreshed in place: the form's question is still the last message
    await kim.send("/status INC-999999")
    (again,) = kim.new()  # an answer without buttons: one message, above the question and its buttons
    assert again.text.startswith("I can't find a ticket with the number INC-999999")
    assert "↩️ Back to your request" in again.text and "Who is affected?" in again.text and "Only me" in again.buttons
    await kim.send("/status")
    (again,) = kim.new()
    assert again.text.startswith("Send the ticket number") and "Who is affected?" in again.text
    await kim.send("/help")
    (again,) = kim.new()
    assert again.text.startswith("How I can help") and "Who is affected?" in again.text and "Only me" in again.buttons

    await kim.press(again, "Only me")  # the reminder's buttons answer the form
    assert "How urgent" in kim.last.text or "Work has stopped" in kim.last.buttons
    await kim.send("/cancel")
    kim.new()
    await kim.send("/my")  # no form open: the list alone
    assert len(kim.new()) == 1


async def test_a_russian_customer_is_reminded_of_the_question_in_russian(desk: Desk) -> None:
    olga = desk.person(601, "Ольга", lang="ru")
    await olga.send("Не работает интернет в переговорной с самого утра")
    question = olga.last
    olga.new()
    await olga.send("/my")
    (again,) = olga.new()  # nothing to list: one message, the answer above the question
    assert again.text.startswith("У вас пока нет заявок: заявка, которую вы заполняете, будет первой.")
    assert "↩️ Вернёмся к заявке" in again.text and again.buttons == question.buttons
    assert "/new" not in again.text.split("↩️")[0]  # not told to start what she is filling in


async def test_a_reply_to_a_tickets_message_during_the_form_goes_to_that_ticket_and_the_form_waits(
    desk: Desk,
) -> None:
    ann, agent = desk.person(501, "Ann"), desk.agent()
    number = await register(ann, "The label printer in the warehouse is jammed and prints nothing at all")
    registered = ann.chat.find(f"Registered: {number}")
    await ann.send("/new Wi-Fi keeps dropping in the meeting room since this morning")
    await ann.press(ann.last, "Wi-Fi")
    question = ann.last
    assert "Who is affected?" in question.text
    ann.new()

    await ann.reply(registered, "It is the printer near room 204")
    added, again = ann.new()
    assert added.text.startswith(f"✅ Added to {number}")
    relayed_under(desk, number, "room 204")
    assert again.text.startswith("↩️ Back to your request") and again.buttons == question.buttons

    await agent.send_in(STAFF, f"/ask {number} Which tray is jammed?")
    await ann.reply(ann.chat.find("Which tray is jammed?"), "The lower one")  # the agent's question, answered
    assert ann.new()[-2].text.startswith(f"✅ Thank you! Your answer was added to {number}")
    relayed_under(desk, number, "The lower one")

    await ann.press(ann.last, "Only me")  # the form went on from where it was, its answers untouched
    await ann.press(ann.last, "Work has stopped")
    await ann.press(ann.last, "Skip")
    await ann.send("Skip")
    summary = ann.last
    assert "Please check your request" in summary.text and "Wi-Fi keeps dropping" in summary.text
    assert "room 204" not in summary.text and "lower one" not in summary.text

    await ann.reply(question, "Only me")  # a reply to the form's own question is the form's
    assert "Please check your request" in ann.last.text
    assert not any("Only me" in text for text in desk.staff.texts())


async def test_the_added_to_confirmation_offers_a_new_request_instead(desk: Desk) -> None:
    olga = desk.person(601, "Ольга", lang="ru")
    number = await register(olga, "Не работает интернет в переговорной с самого утра")
    await olga.reply(olga.chat.find(number), "Принтер в бухгалтерии тоже не печатает")
    added = olga.last
    assert added.text.startswith(f"✅ Добавлено к заявке {number}") and added.buttons == ["📝 Новая заявка"]
    await olga.press(added, "📝 Новая заявка")
    assert "Какой сервис или устройство" in olga.last.text  # what she wrote is the description: not asked again
    assert "Что случилось" not in olga.last.text
    await olga.send("Принтер")
    assert "Кого это затрагивает" in olga.last.text  # the form's answer, not a message to the ticket


async def test_new_request_under_added_to_starts_with_that_message_and_an_older_one_with_an_empty_form(
    desk: Desk,
) -> None:
    ann = desk.person(501, "Ann")
    number = await register(ann, "Outlook keeps crashing whenever I open an attachment")
    await ann.reply(ann.chat.find(number), "It also crashes when I print")
    older = ann.last
    await ann.send("One more thing: the monitor on my desk flickers all the time")  # the conversation goes on
    latest = ann.last
    assert latest.text == f"✅ Added to {number}. The support team has been notified."
    await ann.press(latest, "📝 New request")
    assert "Which service or device is affected" in ann.last.text  # the form goes on from that message
    for _ in range(8):  # through the form with the first choice each time, to the summary
        if "Confirm to register it" in ann.last.text:
            break
        if ann.last.buttons:
            await ann.press(ann.last, ann.last.buttons[0])
        else:
            await ann.send("Skip")
    assert "Description: One more thing: the monitor on my desk flickers all the time" in ann.last.text
    await ann.press(ann.last, "✅ Confirm")
    assert "Registered: INC-000002" in ann.last.text
    await ann.send("/cancel")
    await ann.press(older, "📝 New request")  # the message it confirmed was not the latest: an empty form
    assert "What happened, or what do you need?" in ann.last.text


async def test_the_status_button_under_a_status_card_refreshes_that_card(desk: Desk) -> None:
    """Pressing "🔎 Status" under the card itself brought a copy of it each time, one under another; now
    the card is brought up to date in place. The Registered message's button still sends the card."""
    ann, agent = desk.person(501, "Ann"), desk.agent()
    number = await register(ann, "The label printer in the warehouse is jammed and prints nothing at all")
    await ann.send(f"/status {number}")
    card = ann.last
    assert "State: New" in card.text
    await agent.send(f"/take {number}")
    ann.new()
    answer = await ann.press(card, f"🔎 Status {number}")
    assert answer["text"] == "🔄 Status updated" and ann.new() == []  # nothing sent anew
    assert "State: In progress" in card.text and "Assignee: Agent1" in card.text and card.buttons
    registered = ann.chat.find(f"Registered: {number}")
    await ann.press(registered, f"🔎 Status {number}")
    (fresh,) = ann.new()
    assert "State: In progress" in fresh.text and "Registered" in registered.text  # the confirmation kept
    await ann.press(fresh, f"🔎 Status {number}")
    assert ann.new() == []

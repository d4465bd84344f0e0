"""Media in, in-process: an album is one input wherever the intake takes files (as the first message, at
the description step, at the attachments step); voice notes, video notes and audio on an open ticket go
both ways like photos, and where the intake needs words a voice note is asked to be typed instead."""

from __future__ import annotations

from tests.handlers.harness import STAFF, Desk, Person, Sent
from tests.handlers.test_agent_replies import with_topics
from tests.handlers.test_customers import NUMBER

TEXT_NEEDED = "I need a text answer here"
VOICE_NOT_HEARD = "I can't listen to voice or video messages. Please describe the problem in writing"
PRINTER = "The label printer in the warehouse is jammed and prints nothing at all"


async def finish_intake(person: Person) -> str:
    """Answer the open intake with the first offered answers up to the summary; returns the summary."""
    for _ in range(12):
        question = person.last
        if "Please check your request" in question.text:
            return question.text
        if "Skip" in question.buttons:
            await person.press(question, "Skip")
        elif question.reply_markup and "keyboard" in question.reply_markup:
            await person.send("Skip")
        else:
            await person.press(question, question.buttons[0])
    raise AssertionError(f"the intake did not reach its summary: {person.last.text[:200]}")


async def confirm(desk: Desk, person: Person) -> str:
    """Confirm the summary shown last; returns the ticket's number."""
    await person.press(person.last, "✅ Confirm")
    return NUMBER.search(person.chat.find("Registered").text).group(0)


def attachment_captions(desk: Desk, number: str) -> list[str]:
    return [m.text for m in desk.staff.from_bot if m.text.startswith(f"{number} · attachment")]


def no_hints(messages: list[Sent]) -> None:
    for message in messages:
        assert TEXT_NEEDED not in message.text and "can't use this kind" not in message.text, message.text
        assert VOICE_NOT_HEARD not in message.text, message.text


async def test_an_album_as_the_first_message_is_one_input(any_desk: Desk) -> None:
    desk = any_desk
    ann = desk.person(501, "Ann")
    await ann.send_album(3, PRINTER)
    answers = ann.new()
    no_hints(answers)
    assert len(answers) == 1 and "Which service or device" in answers[0].text  # one album, one answer
    summary = await finish_intake(ann)
    assert "Attachments: 3" in summary and PRINTER in summary
    number = await confirm(desk, ann)
    assert attachment_captions(desk, number) == [f"{number} · attachment {i}/3" for i in (1, 2, 3)]


async def test_an_album_without_a_caption_asks_for_the_description_once(desk: Desk) -> None:
    ann = desk.person(501, "Ann")
    await ann.send_album(3)
    answers = ann.new()
    assert len(answers) == 1 and "describe the problem in words" in answers[0].text
    await ann.send(PRINTER)
    assert "Which service or device" in ann.last.text
    assert "Attachments: 3" in await finish_intake(ann)


async def test_a_caption_on_a_later_part_is_the_description(desk: Desk) -> None:
    ann = desk.person(501, "Ann")
    await ann.send_photo(file_id="p1", album="a")
    await ann.send_photo(PRINTER, file_id="p2", album="a")
    await ann.send_photo(file_id="p3", album="a")
    texts = [m.text for m in ann.new()]
    assert "describe the problem in words" in texts[0] and "Which service or device" in texts[-1]
    assert len(texts) == 2
    summary = await finish_intake(ann)
    assert "Attachments: 3" in summary and PRINTER in summary


async def test_an_album_at_the_description_step_is_one_input(desk: Desk) -> None:
    ann = desk.person(501, "Ann")
    await ann.send("/new")
    ann.new()
    await ann.send_album(3, PRINTER)
    answers = ann.new()
    no_hints(answers)
    assert len(answers) == 1 and "Which service or device" in answers[0].text
    assert "Attachments: 3" in await finish_intake(ann)


async def test_an_album_at_the_attachments_step_is_kept_whole(desk: Desk) -> None:
    ann = desk.person(501, "Ann")
    await ann.send(PRINTER)
    for label in ("Printer or scanner", "My team or department", "Work has stopped"):
        await ann.press(ann.last, label)
    assert "screenshots, photos or documents" in ann.last.text
    await ann.send_album(3, "the jam")
    no_hints(ann.new())
    assert "Received: 3 files" in ann.last.text
    await ann.send_album(2, album="album-2")  # a second album adds to the first
    assert "Received: 5 files" in ann.last.text
    await ann.press(ann.last, "✅ Done")
    assert "Attachments: 5" in await finish_intake(ann)


async def test_a_voice_note_where_words_are_needed_is_asked_to_be_typed(desk: Desk) -> None:
    ann = desk.person(501, "Ann")
    await ann.send_media("voice", file_id="v1")  # the first message: not "a text answer", there was no question
    assert VOICE_NOT_HEARD in ann.last.text and "What happened" in ann.last.text
    await ann.send("/new")
    await ann.send_media("video_note", file_id="vn1")
    assert VOICE_NOT_HEARD in ann.last.text and "What happened" in ann.last.text
    await ann.send(PRINTER)
    await ann.send_media("voice", file_id="v2")  # the service question takes typed words too
    assert TEXT_NEEDED in ann.last.text and "Which service or device" in ann.last.text
    for label in ("Printer or scanner", "My team or department", "Work has stopped"):
        await ann.press(ann.last, label)
    await ann.send_media("voice", file_id="v3")  # at the attachments step it is a file like any other
    assert "Received: 1 file." in ann.last.text
    assert "Attachments: 1" in await finish_intake(ann)


async def open_ticket(desk: Desk, person: Person) -> tuple[str, Sent]:
    await person.send("/new")  # a new request even with another one open
    await person.send(PRINTER)
    await finish_intake(person)
    number = await confirm(desk, person)
    return number, desk.card(number)


async def test_voice_video_notes_and_audio_reach_the_staff_from_an_open_ticket(any_desk: Desk) -> None:
    desk = any_desk
    agent, ann = desk.agent(), desk.person(501, "Ann")
    number, card = await open_ticket(desk, ann)
    await agent.press(card, "🙋 Take")
    registered = ann.last  # "taken by Agent1", linked to the ticket: a reply to it is about that ticket

    await ann.write({"voice": {"file_id": "v1", "file_unique_id": "u-v1", "duration": 3}}, reply_to=registered)
    assert f"Added to {number}" in ann.last.text
    voice = desk.staff.last
    assert voice.kind == "copy" and f"{number} · message from Ann" in voice.text and voice.reply_to == card.message_id

    await ann.write({"video_note": {"file_id": "vn1", "file_unique_id": "u-vn1", "length": 240}}, reply_to=registered)
    header, note = desk.staff.from_bot[-2:]
    assert f"{number} · message from Ann" in header.text and header.reply_to == card.message_id
    assert note.kind == "copy" and note.text == ""  # a video note shows no caption: its header came just before
    copy = next(p for m, p in reversed(desk.telegram.calls) if m == "copyMessage")
    assert "caption" not in copy

    await ann.send_media("audio", file_id="a1")  # no reply, but her conversation about it goes on
    assert f"Added to {number}" in ann.last.text and f"{number} · message from Ann" in desk.staff.last.text

    await agent.reply(voice, "Thanks, we hear the noise")  # a reply to the relayed voice note is for Ann
    assert "we hear the noise" in ann.last.text


async def test_an_agents_voice_video_note_and_audio_reach_the_customer(any_desk: Desk) -> None:
    desk = any_desk
    agent, ann = desk.agent(), desk.person(501, "Ann")
    number, card = await open_ticket(desk, ann)

    await agent.write({"voice": {"file_id": "av1", "file_unique_id": "u-av1", "duration": 5}}, chat=card.chat_id,
                      reply_to=card)  # fmt: skip
    voice = ann.last
    assert voice.kind == "copy" and f"{number} · Support" in voice.text
    assert "Sent to the customer" in desk.staff.last.text

    await agent.write({"video_note": {"file_id": "avn1", "file_unique_id": "u-avn1", "length": 240}},
                      chat=card.chat_id, reply_to=card)  # fmt: skip
    header, note = ann.chat.from_bot[-2:]
    assert f"{number} · Support" in header.text and note.kind == "copy" and note.text == ""

    await agent.write({"audio": {"file_id": "aa1", "file_unique_id": "u-aa1", "duration": 60}}, chat=card.chat_id,
                      reply_to=card)  # fmt: skip
    assert ann.last.kind == "copy" and f"{number} · Support" in ann.last.text

    await ann.reply(voice, "Got it, thank you")  # the customer's reply to the voice note is on the ticket
    assert f"Added to {number}" in ann.last.text


def relayed_from(desk: Desk, number: str, name: str = "Ann") -> list[Sent]:
    """The customer's messages relayed under the ticket's card (an answer or a message)."""
    return [
        m
        for m in desk.staff.from_bot
        if m.kind == "copy"
        and (f"{number} · answer from {name}" in m.text or f"{number} · message from {name}" in m.text)
    ]


async def test_an_album_answering_an_agents_question_goes_whole_to_the_ticket(any_desk: Desk) -> None:
    desk = any_desk
    agent, ann = desk.agent(), desk.person(501, "Ann")
    number, card = await open_ticket(desk, ann)
    await agent.press(card, "❓ Ask for info")
    await agent.reply(desk.staff.find("reply to this message with your question"), "A photo of the display, please")
    question = ann.chat.find("A photo of the display")
    await ann.press(question, "✍️ Reply")  # the first part uses the Reply up; the others follow it
    ann.new()
    await ann.send_album(3, "the display")
    answers = ann.new()
    assert len(answers) == 1 and f"answer was added to {number}" in answers[0].text
    assert len(relayed_from(desk, number)) == 3 and "In progress" in card.text


async def test_an_album_waits_whole_for_the_chooser(any_desk: Desk) -> None:
    desk = any_desk
    ann = desk.person(501, "Ann")
    first, _card = await open_ticket(desk, ann)
    second, _card = await open_ticket(desk, ann)
    ann.new()
    await ann.send_album(3, PRINTER, album="a2")  # a new request after all: the intake keeps the whole album
    answers = ann.new()
    assert len(answers) == 1 and "Which one is this message about?" in answers[0].text
    await ann.press(answers[0], "📝 It's a new request")
    assert "Which service or device" in ann.last.text
    no_hints(ann.new())
    assert "Attachments: 3" in await finish_intake(ann)
    await confirm(desk, ann)

    ann.new()
    await ann.send_album(3, "the display", album="a1")
    answers = ann.new()
    assert len(answers) == 1 and "Which one is this message about?" in answers[0].text
    await ann.press(answers[0], next(b for b in answers[0].buttons if second in b))
    assert [m.text for m in ann.new()] == [f"✅ Added to {second}. The support team has been notified."]
    assert len(relayed_from(desk, second)) == 3 and relayed_from(desk, first) == []


async def test_an_agents_voice_note_in_the_tickets_topic_reaches_the_customer(desk: Desk) -> None:
    with_topics(desk)
    agent, ann = desk.agent(), desk.person(501, "Ann")
    number, card = await open_ticket(desk, ann)
    assert card.thread_id is not None
    await agent.write({"voice": {"file_id": "tv1", "file_unique_id": "u-tv1", "duration": 4}}, chat=STAFF,
                      topic=card.thread_id)  # fmt: skip
    assert ann.last.kind == "copy" and f"{number} · Support" in ann.last.text
    before = len(ann.chat.from_bot)
    await agent.write({"voice": {"file_id": "tv2", "file_unique_id": "u-tv2", "duration": 4}, "caption": "!for us"},
                      chat=STAFF, topic=card.thread_id)  # fmt: skip
    assert "Internal note added" in desk.staff.last.text and len(ann.chat.from_bot) == before


async def test_an_album_while_a_question_is_due_is_kept_and_answered_once(desk: Desk) -> None:
    ann = desk.person(501, "Ann")
    await ann.send(PRINTER)
    await ann.press(ann.last, "Printer or scanner")
    ann.new()
    await ann.send_album(3, "look")
    answers = ann.new()
    assert len(answers) == 1 and "I kept the file" in answers[0].text and "Who is affected?" in answers[0].text
    await ann.send_album(2, album="album-2")  # another album: answered again, once
    assert len(ann.new()) == 1
    assert "Attachments: 5" in await finish_intake(ann)  # the pictures were kept (they were refused and lost)


async def test_an_agents_album_reaches_the_customer_under_one_header_with_one_acknowledgement(any_desk: Desk) -> None:
    """Telegram sends each part of an album as a message of its own: the first part is headed with the
    ticket and acknowledged, the later ones follow it in order, unheaded and unacknowledged."""
    desk = any_desk
    agent, ann = desk.agent(), desk.person(501, "Ann")
    number, card = await open_ticket(desk, ann)
    ann.new(), desk.staff.new()

    async def album(name: str, count: int, caption: str) -> None:
        for index in range(count):
            words = caption if index == 0 else None
            await agent.send_photo(words, file_id=f"{name}-{index}", album=name, chat=STAFF, reply_to=card)

    await album("fuser", 3, "The new fuser, before and after")
    copies = [m for m in ann.new() if m.kind == "copy"]
    assert len(copies) == 3 and copies[0].text.startswith(f"💬 {number} · Support:\nThe new fuser")
    assert [m.text for m in copies[1:]] == ["", ""]  # their own (empty) captions: no header again
    assert len([m for m in desk.staff.new() if "Sent to the customer" in m.text]) == 1
    await album("rollers", 2, "And the rollers")  # another album: headed and acknowledged again
    copies = [m for m in ann.new() if m.kind == "copy"]
    assert len(copies) == 2 and copies[0].text.startswith(f"💬 {number} · Support:\nAnd the rollers")
    assert len([m for m in desk.staff.new() if "Sent to the customer" in m.text]) == 1


async def test_a_photo_sent_while_another_question_is_due_is_kept_and_the_question_asked_again(desk: Desk) -> None:
    """A screenshot sent at the service question (or at the summary) is attached, not refused with "I need a
    text answer here" and lost; the album's later parts follow it quietly."""
    ann = desk.person(501, "Ann")
    await ann.send(PRINTER)
    assert "Which service or device" in ann.last.text
    await ann.send_photo(file_id="shot-1")
    kept = ann.last
    assert "I kept the file, it will be attached to the request." in kept.text and TEXT_NEEDED not in kept.text
    assert "Which service or device" in kept.text and "Printer or scanner" in kept.buttons
    before = len(ann.chat.from_bot)
    await ann.send_photo(file_id="album-1", album="a1")
    await ann.send_photo(file_id="album-2", album="a1")  # a later part of the same album: no second answer
    assert len(ann.chat.from_bot) == before + 1
    summary = await finish_intake(ann)
    assert "Attachments: 3" in summary
    await ann.send_photo(file_id="shot-2")  # at the summary too: counted in the summary asked again
    assert "I kept the file" in ann.last.text and "Attachments: 4" in ann.last.text
    number = await confirm(desk, ann)
    assert len(attachment_captions(desk, number)) == 4


async def test_a_photo_mid_form_in_russian(desk: Desk) -> None:
    olga = desk.person(601, "Ольга", lang="ru")
    await olga.send("Не печатает принтер в бухгалтерии, горит красная лампочка")
    await olga.send_photo(file_id="shot-ru")
    assert "Файл сохранён и будет приложен к заявке." in olga.last.text and "Какой сервис" in olga.last.text

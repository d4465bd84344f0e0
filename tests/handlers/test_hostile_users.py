"""What one user sends cannot make the desk post where it should not, nor alert the staff for nothing:
customer buttons pressed in groups, agents' buttons pressed by anyone else, messages with no usable
sender. On SQLite and PostgreSQL, under each runtime."""

from __future__ import annotations

import logging

import pytest
from sqlmodel import func, select

from storage.models import Customer, Draft, InboxUpdate, Ticket
from tests.handlers.harness import Desk, Person
from tests.handlers.test_customers import NUMBER, register

OUT_OF_DATE = "This button is out of date."
AGENTS_ONLY = "Only support agents can do this."
CUSTOMER_BUTTONS = ("m:new", "m:my", "m:help", "lg:ru", "lg:en", "i:abc123:incident", "i:x", "st:1", "ft:new", "ft:1",
                    "fx:1:y", "rt:1:5", "an:1")  # fmt: skip


async def count(desk: Desk, table: type) -> int:
    async with desk.db.read() as session:
        return int((await session.exec(select(func.count()).select_from(table))).one())


async def test_customer_buttons_pressed_by_a_non_agent_in_a_group_post_nothing(any_desk: Desk) -> None:
    desk = any_desk
    ann, eve = desk.person(501, "Ann"), desk.person(666, "Eve")
    number = await register(ann, "The projector in meeting room 3 does not turn on")
    card = desk.card(number)
    staff_before, drafts_before = len(desk.staff.from_bot), await count(desk, Draft)
    other_group = await eve.send_in(-100900, "look at this")
    for where in (card, other_group):
        for data in CUSTOMER_BUTTONS:
            answer = await eve.press_data(where, data)
            assert answer["text"] == OUT_OF_DATE, data
    assert len(desk.staff.from_bot) == staff_before and desk.telegram.chat(-100900).from_bot == []
    assert await count(desk, Draft) == drafts_before  # no intake started for Eve
    assert eve.chat.from_bot == []  # nothing sent to her privately either
    async with desk.db.read() as session:
        eve_row = (await session.exec(select(Customer).where(Customer.telegram_id == 666))).first()
    assert eve_row is None or eve_row.language is None  # lg:ru in a group changed nothing


async def test_an_agents_button_pressed_by_anyone_else_is_refused_and_changes_nothing(any_desk: Desk) -> None:
    desk = any_desk
    ann, eve = desk.person(501, "Ann"), desk.person(666, "Eve")
    number = await register(ann, "The scanner on floor 4 jams on every page")
    card = desk.card(number)
    tid = int(card.data_of("📄 Details").split(":")[2])
    await eve.send("/start")
    staff_before = len(desk.staff.from_bot)
    for data in (f"ag:take:{tid}", f"ag:det:{tid}", f"ag:ask:{tid}", f"ag:res:{tid}", "mj:m:1", f"cz:{tid}:1:other"):
        answer = await eve.press_data(card, data)  # in the staff chat
        assert answer == {"text": AGENTS_ONLY, "show_alert": True}, data
        before = len(eve.chat.from_bot)
        assert (await eve.press_data(eve.last, data))["text"] == AGENTS_ONLY  # in her private chat
        assert len(eve.chat.from_bot) == before  # no "current question" announced, nothing sent
    assert len(desk.staff.from_bot) == staff_before and "🙋 Take" in card.buttons
    agent = desk.agent()  # an agent in another group: not a place to act, just out of date
    assert (await agent.press_data(await agent.send_in(-100900, "hm"), f"ag:take:{tid}"))["text"] == OUT_OF_DATE


async def test_an_intake_button_after_the_intake_is_over_is_out_of_date(any_desk: Desk) -> None:
    desk = any_desk
    kim = desk.person(502, "Kim")
    await kim.send("/new")
    question = kim.last
    await kim.send("/cancel")
    before = len(kim.chat.from_bot)
    answer = await kim.press(question, "✖ Cancel")
    assert answer["text"] == OUT_OF_DATE and len(kim.chat.from_bot) == before


async def test_a_status_button_for_a_ticket_not_hers_is_out_of_date_and_names_no_number(any_desk: Desk) -> None:
    desk = any_desk
    ann, eve = desk.person(501, "Ann"), desk.person(666, "Eve")
    number = await register(ann, "The projector in meeting room 3 does not turn on")
    tid = int(desk.card(number).data_of("📄 Details").split(":")[2])
    await eve.send("/start")
    before = len(eve.chat.from_bot)
    for data in (f"st:{tid}", "st:999999", "st:x", "st:"):  # Ann's ticket, none, nonsense
        answer = await eve.press_data(eve.last, data)
        assert answer["text"] == OUT_OF_DATE, data  # not "a ticket with the number ?"
    assert len(eve.chat.from_bot) == before and number not in str(eve.chat.from_bot)


async def test_a_private_message_with_no_usable_sender_alerts_nobody(
    any_desk: Desk, caplog: pytest.LogCaptureFixture
) -> None:
    desk = any_desk
    caplog.set_level(logging.INFO, logger="bot.updates")
    staff_before = len(desk.staff.from_bot)
    chat = {"id": 4401, "type": "private", "first_name": "Ghost"}
    await desk.feed("message", {"message_id": 1, "date": 1, "chat": chat, "text": "no from at all"})
    robot = {"id": 4402, "is_bot": True, "first_name": "Robot"}
    chat_of_bot = {"id": 4402, "type": "private", "first_name": "Robot"}
    await desk.feed("message", {"message_id": 1, "date": 1, "chat": chat_of_bot, "from": robot, "text": "/start"})
    await desk.feed("message", {"message_id": 2, "date": 1, "chat": chat_of_bot, "from": robot, "photo": []})
    assert desk.inbox.stats.parked == 0 and desk.inbox.stats.failed_attempts == 0  # not retried, not parked
    assert len(desk.staff.from_bot) == staff_before
    assert desk.telegram.chat(4401).from_bot == [] and desk.telegram.chat(4402).from_bot == []
    async with desk.db.read() as session:
        statuses = {row.status for row in (await session.exec(select(InboxUpdate))).all()}
    assert statuses == {"done"}
    dropped = [r.getMessage() for r in caplog.records if "outcome=no_sender" in r.getMessage()]
    assert len(dropped) == 3, dropped  # dropped at the edge, each with its log line
    ann = desk.person(501, "Ann")  # and the desk goes on
    await ann.send("/start")
    assert "Hello, Ann" in ann.last.text


async def test_a_description_with_nul_and_a_lone_surrogate_registers_on_every_database(any_desk: Desk) -> None:
    """PostgreSQL's text refuses U+0000 and no database takes a lone surrogate: both become U+FFFD at the
    edge (one UTF-16 unit for one, so the formatting's offsets still fit), the same on SQLite."""
    desk = any_desk
    ann = desk.person(501, "Ann")
    number = await register(ann, "The label printer\x00 on floor 2 prints \ud800blank pages")
    stored = "The label printer\ufffd on floor 2 prints \ufffdblank pages"
    async with desk.db.read() as session:
        ticket = (await session.exec(select(Ticket).where(Ticket.number == number))).one()
        payloads = [row.payload for row in (await session.exec(select(InboxUpdate))).all()]
    assert ticket.description == stored
    assert "\x00" not in str(payloads) and "\\x00" not in repr(payloads)
    assert stored in desk.card(number).text
    assert desk.inbox.stats.parked == 0 and desk.inbox.stats.failed_attempts == 0
    kim = desk.person(502, "Kim")  # a reply quoting the text after the NUL reads the same words
    await kim.send("Projector\x00 is broken")
    async with desk.db.read() as session:
        draft = (await session.exec(select(Draft).join(Customer).where(Customer.telegram_id == 502))).one()
    assert draft.answers["description"] == "Projector\ufffd is broken"


async def to_contact_step(person: Person, description: str) -> None:
    """Walk a new intake with the first offered answers up to the call-back question."""
    await person.send("/new")
    await person.send(description)
    for _ in range(12):
        question = person.last
        if "call back" in question.text:
            return
        if "Skip" in question.buttons:
            await person.press(question, "Skip")
        else:
            await person.press(question, question.buttons[0])
    raise AssertionError(f"no contact step: {person.last.text[:200]}")


async def confirm(person: Person) -> str:
    summary = person.last
    await person.press(summary, "✅ Confirm")
    return NUMBER.search(person.last.text).group(0)


async def test_someone_elses_contact_is_a_call_back_contact_never_the_customers_phone(any_desk: Desk) -> None:
    desk = any_desk
    ann, kim, agent = desk.person(501, "Ann"), desk.person(502, "Kim"), desk.agent()
    await to_contact_step(ann, "The label printer on floor 2 prints blank pages")
    await ann.write(
        {"contact": {"phone_number": "+1 555 0100", "first_name": "Bob", "last_name": "Smith", "user_id": 777}}
    )
    assert "Contact: Bob Smith, +1 555 0100" in ann.last.text  # her summary
    number = await confirm(ann)
    given = "Contact: Bob Smith, +1 555 0100 (given by the customer)"
    assert given in desk.card(number).text
    await agent.send(f"/ticket {number}")
    assert given in agent.last.text
    await to_contact_step(kim, "The scanner on floor 4 jams on every single page")
    await kim.write({"contact": {"phone_number": "+1 555 0199", "first_name": "Reception"}})  # no user_id
    kims = await confirm(kim)
    assert "Contact: Reception, +1 555 0199 (given by the customer)" in desk.card(kims).text
    async with desk.db.read() as session:
        phones = {c.telegram_id: c.phone for c in (await session.exec(select(Customer))).all()}
    assert phones[501] is None and phones[502] is None  # neither stored as the customer's own phone
    await to_contact_step(ann, "The projector in meeting room 3 does not turn on")  # her own card
    await ann.write({"contact": {"phone_number": "+44 20 7946 0000", "first_name": "Ann", "user_id": 501}})
    own = await confirm(ann)
    assert "Contact: +44 20 7946 0000\n" in desk.card(own).text and "given by" not in desk.card(own).text
    assert given in desk.card(number).text  # the first ticket still names Bob's as given
    async with desk.db.read() as session:
        ann_row = (await session.exec(select(Customer).where(Customer.telegram_id == 501))).one()
    assert ann_row.phone == "+44 20 7946 0000"

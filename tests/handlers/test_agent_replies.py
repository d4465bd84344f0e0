"""Agents' replies beyond /reply, in-process on both runtimes: canned replies (/canned, /reply N #name),
edits of replies as corrections, talk and internal notes in tickets' forum topics, /open for a customer,
and who may use them (strangers, customers, former agents)."""

from __future__ import annotations

from pathlib import Path

from helpdesk.policy import DeskPolicy
from tests.handlers.harness import AGENTS, STAFF, Desk
from tests.handlers.test_customers import NUMBER, register

SAMPLE = Path(__file__).resolve().parents[2] / "docs" / "canned-replies-sample.toml"
UNKNOWN = "I don't know that command"


def with_templates(desk: Desk, path: Path | None = SAMPLE) -> Desk:
    """The desk restarted with CANNED_REPLIES_FILE set (the rest of its policy as it was)."""
    desk.policy = DeskPolicy(
        agent_ids=frozenset(AGENTS), staff_chat_id=STAFF, canned_replies_file=str(path) if path else None
    )
    desk.restart()
    return desk


# -- canned replies --------------------------------------------------------------------------------------


async def test_canned_lists_the_templates_by_name_and_first_line(desk: Desk) -> None:
    with_templates(desk)
    agent = desk.agent()
    await agent.send("/canned")
    listing = agent.last.text
    assert "Canned replies · 6" in listing and "/reply N #name" in listing
    assert "#restart — Hello {customer}! Please restart your computer" in listing
    assert "#on-site — {customer}, I will come to your desk" in listing and "Who:" not in listing
    await agent.send_in(STAFF, "/canned")  # in the staff chat too, in the desk's language
    assert "#waiting-supplier" in desk.staff.last.text


async def test_a_canned_reply_reaches_the_customer_filled_in_in_their_language(desk: Desk) -> None:
    with_templates(desk)
    olga = desk.person(601, "Ольга", lang="ru")
    number = await register(olga, "не печатает принтер на втором этаже, бумага застревает")
    agent = desk.agent()
    await agent.send(f"/reply {number} #restart")
    assert f"Canned reply #restart sent to the customer of {number} (in ru)" in agent.last.text
    reply = olga.last
    assert "Здравствуйте, Ольга! Перезагрузите" in reply.text and f"по заявке {number}" in reply.text
    assert "<b>Перезагрузка</b>" in reply.html and "{" not in reply.text
    assert "In progress" in desk.card(number).text  # a first response, like any reply

    await agent.send(f"/reply {number} #WAITING-supplier")  # case forgiven; {agent} is the sender
    assert "— Agent1" in olga.last.text and "поставщику" in olga.last.text
    await agent.send(f"/ticket {number}")
    assert "Перезагрузите" in agent.last.text  # the ticket's history has what the customer read


async def test_a_customer_name_with_markup_is_escaped(desk: Desk) -> None:
    with_templates(desk)
    ann = desk.person(501, "<b>Ann</b> & Co")
    number = await register(ann, "Please install Photoshop on my work computer")
    await desk.agent().send(f"/reply {number} #need-screenshot")
    assert ann.last.text.startswith(f"💬 {number} · Support:\n<b>Ann</b> & Co, could you send a screenshot")
    assert "&lt;b&gt;Ann&lt;/b&gt; &amp; Co" in ann.last.html


async def test_an_unknown_template_is_answered_with_the_names_and_nothing_is_sent(desk: Desk) -> None:
    with_templates(desk)
    ann = desk.person(501, "Ann")
    number = await register(ann, "Please install Photoshop on my work computer")
    agent, before = desk.agent(), len(ann.chat.from_bot)
    await agent.send(f"/reply {number} #restrat")
    assert "There is no canned reply #restrat" in agent.last.text
    assert "#restart, #need-screenshot, #password-portal" in agent.last.text
    await agent.send(f"/reply {number} #restart please")  # words after a hash: an ordinary reply
    assert len(ann.chat.from_bot) == before + 1 and ann.last.text.endswith("#restart please")
    await agent.send("/reply INC-424242 #restart")
    assert "There is no ticket INC-424242" in agent.last.text
    assert len(ann.chat.from_bot) == before + 1


async def test_a_hash_without_a_name_asks_for_the_name_and_sends_nothing(desk: Desk) -> None:
    with_templates(desk)
    ann = desk.person(501, "Ann")
    number = await register(ann, "Please install Photoshop on my work computer")
    agent, before = desk.agent(), len(ann.chat.from_bot)
    for rest in ("#", "#   ", "##"):
        await agent.send(f"/reply {number} {rest}")
        assert "Name the canned reply after the #: /reply N #name" in agent.last.text, rest
        assert "#restart, #need-screenshot, #password-portal" in agent.last.text
    olga = desk.person(7002, "Агент", lang="ru")
    await olga.send(f"/reply {number} #")
    assert "Укажите имя шаблона после #" in olga.last.text and "#restart" in olga.last.text
    assert len(ann.chat.from_bot) == before and "#" not in ann.last.text


async def test_without_templates_canned_says_how_to_get_them(desk: Desk) -> None:
    ann = desk.person(501, "Ann")
    number = await register(ann, "Please install Photoshop on my work computer")
    agent, before = desk.agent(), len(ann.chat.from_bot)
    await agent.send("/canned")
    assert "There are no canned replies" in agent.last.text and "CANNED_REPLIES_FILE" in agent.last.text
    await agent.send(f"/reply {number} #restart")
    assert "There are no canned replies" in agent.last.text
    assert len(ann.chat.from_bot) == before


async def test_a_closed_ticket_gets_no_canned_reply(desk: Desk) -> None:
    with_templates(desk)
    ann = desk.person(501, "Ann")
    number = await register(ann, "Please install Photoshop on my work computer")
    agent = desk.agent()
    await agent.send(f"/status {number} cancelled")
    before = len(ann.chat.from_bot)
    await agent.send(f"/reply {number} #restart")
    assert f"{number} is Cancelled" in agent.last.text and len(ann.chat.from_bot) == before


async def test_help_shows_the_reply_commands_to_agents_only(desk: Desk) -> None:
    agent, ann = desk.agent(), desk.person(501, "Ann")
    await agent.send("/help")
    assert "/canned" in agent.last.text and "/reply N #name" in agent.last.text
    await ann.send("/help")
    assert "/canned" not in ann.last.text and "#name" not in ann.last.text


async def test_strangers_and_customers_cannot_use_canned_replies(desk: Desk) -> None:
    with_templates(desk)
    ann, eve = desk.person(501, "Ann"), desk.person(666, "Eve", username="eve")
    number = await register(ann, "Please install Photoshop on my work computer")
    before, staff_before = len(ann.chat.from_bot), len(desk.staff.from_bot)
    for who in (eve, ann):
        for command in ("/canned", f"/reply {number} #restart"):
            await who.send(command)
            assert UNKNOWN in who.last.text, command
            await who.send_in(STAFF, command)
    assert len(ann.chat.from_bot) == before + 2  # her own two "unknown command" answers
    assert len(desk.staff.from_bot) == staff_before and "New" in desk.card(number).text


# -- edits both ways -------------------------------------------------------------------------------------


async def test_an_edited_reply_to_the_card_reaches_the_customer_as_a_correction_once(any_desk: Desk) -> None:
    desk = any_desk
    ann = desk.person(501, "Ann")
    number = await register(ann, "The printer on floor 2 is jammed and prints nothing at all")
    agent = desk.agent()
    sent = await agent.reply(desk.card(number), "Please restart the printr")
    assert ann.last.text.endswith("Please restart the printr")
    before = len(ann.chat.from_bot)
    await agent.edit(sent, "Please restart the printer")
    correction = ann.last
    assert len(ann.chat.from_bot) == before + 1
    assert correction.text == f"✏️ {number} · Support corrected an earlier message:\nPlease restart the printer"
    assert f"correction was sent to the customer of {number}" in desk.staff.last.text
    await agent.edit(sent, "Please restart the printer")  # the same words again: nothing
    await agent.edit(sent, "  Please restart the printer ")
    assert len(ann.chat.from_bot) == before + 1
    await agent.edit(sent, "Please restart the printer and the PC")  # a second edit: a second correction
    assert len(ann.chat.from_bot) == before + 2 and ann.last.text.endswith("the printer and the PC")
    await agent.send(f"/ticket {number}")
    assert "Agent1: corrected a message to the customer: Please restart the printer and the PC" in agent.last.text


async def test_an_edited_reply_command_is_read_as_the_command(desk: Desk) -> None:
    with_templates(desk)
    olga = desk.person(601, "Ольга", lang="ru")
    number = await register(olga, "не печатает принтер на втором этаже, бумага застревает")
    agent = desk.agent()
    command = await agent.send(f"/reply {number} Перезагрузите принтр")
    await agent.edit(command, f"/reply {number} Перезагрузите принтер")
    assert olga.last.text == f"✏️ {number} · Поддержка исправила предыдущее сообщение:\nПерезагрузите принтер"
    assert "correction was sent" in agent.last.text
    await agent.edit(command, f"/reply {number} #restart")  # a canned reply instead: filled in, in Russian
    assert "исправила" in olga.last.text and "Здравствуйте, Ольга! Перезагрузите" in olga.last.text
    before = len(olga.chat.from_bot)
    await agent.edit(command, "/reply INC-424242 Перезагрузите")  # another ticket: refused
    assert f"cannot move a message to another ticket; the customer of {number}" in agent.last.text
    await agent.edit(command, f"/reply {number}")  # nothing left to send
    assert "There is nothing to send" in agent.last.text
    await agent.edit(command, f"/reply {number} #restrat")
    assert "There is no canned reply #restrat" in agent.last.text
    assert len(olga.chat.from_bot) == before

    question = await agent.send_in(STAFF, f"/ask {number} Какая модель?")
    await agent.edit(question, f"/ask {number} Какая модель принтера?")
    assert olga.last.text.endswith("Какая модель принтера?") and "✍️ Ответить" in olga.last.buttons


async def test_edits_of_messages_that_reached_no_customer_do_nothing(desk: Desk) -> None:
    ann = desk.person(501, "Ann")
    number = await register(ann, "The printer on floor 2 is jammed and prints nothing at all")
    agent = desk.agent()
    chat = await agent.send_in(STAFF, "Who is on call today?")  # talk among agents
    status = await agent.send(f"/status {number} in_progress")
    refused = await agent.send("/reply INC-424242 hello")
    before, staff_before = len(ann.chat.from_bot), len(desk.staff.from_bot)
    await agent.edit(chat, "Who is on call tomorrow?")
    await agent.edit(status, f"/status {number} waiting_customer")
    assert len(desk.staff.from_bot) == staff_before and len(ann.chat.from_bot) == before
    assert "In progress" in desk.card(number).text  # the edited /status changed nothing
    await agent.edit(refused, "/reply INC-424242 hello again")  # in a private chat: as a customer's edit
    assert "can't pick up edits" in agent.last.text and len(ann.chat.from_bot) == before


async def test_a_customers_edit_still_reaches_the_staff(desk: Desk) -> None:
    ann = desk.person(501, "Ann")
    number = await register(ann, "The printer on floor 2 is jammed and prints nothing at all")
    message = await ann.send("It is the HP one")
    await ann.press(ann.last, next(label for label in ann.last.buttons if number in label))
    assert "It is the HP one" in desk.staff.last.text
    await ann.edit(message, "It is the Canon one")
    assert f"{number} · Ann edited: It is the Canon one" in desk.staff.last.text
    assert "correction was passed on" in ann.last.text


async def test_a_former_agents_edit_is_not_relayed(desk: Desk) -> None:
    ann = desk.person(501, "Ann")
    number = await register(ann, "The printer on floor 2 is jammed and prints nothing at all")
    agent = desk.agent(AGENTS[1])
    sent = await agent.reply(desk.card(number), "I will come by")
    desk.policy = DeskPolicy(agent_ids=frozenset(AGENTS[:1]), staff_chat_id=STAFF)  # removed from AGENT_IDS
    desk.restart()
    before, staff_before = len(ann.chat.from_bot), len(desk.staff.from_bot)
    await agent.edit(sent, "I will not come")
    assert len(ann.chat.from_bot) == before and len(desk.staff.from_bot) == staff_before


# -- forum topics and internal notes ---------------------------------------------------------------------


def with_topics(desk: Desk) -> Desk:
    desk.policy = DeskPolicy(agent_ids=frozenset(AGENTS), staff_chat_id=STAFF, staff_topics=True)
    desk.restart()
    return desk


async def test_in_a_tickets_topic_plain_talk_reaches_the_customer_and_notes_do_not(any_desk: Desk) -> None:
    desk = with_topics(any_desk)
    ann = desk.person(501, "Ann")
    number = await register(ann, "The printer on floor 2 is jammed and prints nothing at all")
    topic = desk.card(number).thread_id
    assert topic is not None
    agent, staff_before = desk.agent(), len(desk.staff.from_bot)
    before = len(ann.chat.from_bot)
    note = await agent.send_in(STAFF, "!the supplier says the fuser is on backorder", topic=topic)
    assert "Internal note added" in desk.staff.last.text and desk.staff.last.thread_id == topic
    assert len(ann.chat.from_bot) == before  # not relayed
    await agent.send_in(STAFF, "We are ordering a new fuser for the printer.", topic=topic)
    assert ann.last.text == f"💬 {number} · Support:\nWe are ordering a new fuser for the printer."
    assert len(desk.staff.from_bot) == staff_before + 1  # the note's acknowledgement; plain talk needs none
    assert "In progress" in desk.card(number).text  # a first response, like any reply
    await agent.edit(note, "!the supplier says next week")  # a note's edit is not relayed either
    assert not any("supplier" in text for text in ann.chat.texts())

    await agent.send(f"/ticket {number}")
    history = agent.last.text
    assert "Agent1: internal note: the supplier says the fuser is on backorder" in history
    assert "Agent1: answer to the customer: We are ordering a new fuser" in history


async def test_topic_talk_edits_prompts_and_refusals(desk: Desk) -> None:
    with_topics(desk)
    ann = desk.person(501, "Ann")
    number = await register(ann, "The printer on floor 2 is jammed and prints nothing at all")
    card = desk.card(number)
    agent = desk.agent()
    said = await agent.send_in(STAFF, "I will come at 3 pm", topic=card.thread_id)
    await agent.edit(said, "I will come at 4 pm")
    assert ann.last.text.endswith("corrected an earlier message:\nI will come at 4 pm")
    await agent.press(card, "❓ Ask for info")  # a reply to the prompt in the topic is the question
    await agent.reply(desk.staff.find("reply to this message with your question"), "Which tray is jammed?")
    assert "Which tray is jammed?" in ann.last.text and "✍️ Reply" in ann.last.buttons
    await agent.send_in(STAFF, "!", topic=card.thread_id)
    assert "Write the note after the !" in desk.staff.last.text
    await agent.send(f"/status {number} cancelled")
    before = len(ann.chat.from_bot)
    await agent.send_in(STAFF, "Are you still there?", topic=card.thread_id)
    assert f"{number} is Cancelled" in desk.staff.last.text and len(ann.chat.from_bot) == before


async def test_a_note_replying_to_the_card_is_not_relayed(desk: Desk) -> None:
    ann = desk.person(501, "Ann")
    number = await register(ann, "The printer on floor 2 is jammed and prints nothing at all")
    before = len(ann.chat.from_bot)
    await desk.agent().reply(desk.card(number), "! customer is VIP, handle first")
    assert "Internal note added" in desk.staff.last.text and len(ann.chat.from_bot) == before


async def test_strangers_and_other_topics_relay_nothing(desk: Desk) -> None:
    with_topics(desk)
    ann, eve = desk.person(501, "Ann"), desk.person(666, "Eve", username="eve")
    number = await register(ann, "The printer on floor 2 is jammed and prints nothing at all")
    topic = desk.card(number).thread_id
    before, staff_before = len(ann.chat.from_bot), len(desk.staff.from_bot)
    await eve.send_in(STAFF, "Eve writes to the customer", topic=topic)  # not an agent
    await eve.send_in(STAFF, "!Eve's note", topic=topic)
    await desk.agent().send_in(STAFF, "Lunch at noon?", topic=topic + 1000)  # a topic that is no ticket's
    assert len(ann.chat.from_bot) == before and len(desk.staff.from_bot) == staff_before
    await desk.agent().send(f"/ticket {number}")
    assert "Eve" not in desk.agent().last.text


# -- /open -----------------------------------------------------------------------------------------------


async def test_open_registers_a_triaged_ticket_for_a_known_customer_told_in_their_language(any_desk: Desk) -> None:
    desk = any_desk
    olga = desk.person(601, "Ольга", lang="ru")
    await olga.send("/start")
    agent = desk.agent()
    await agent.send("/open 601 не работает интернет во всём офисе, никто не может работать")
    opened = agent.last.text
    number = NUMBER.search(opened).group(0)
    assert f"{number} opened for Ольга (Incident, Network, P" in opened and "the customer was told" in opened
    told = olga.last
    assert f"Служба поддержки зарегистрировала для вас заявку {number}" in told.text
    assert "не работает интернет во всём офисе" in told.text and "Первый ответ: в течение" in told.text
    card = desk.card(number)
    assert "Network" in card.text and "Ольга · id 601" in card.text
    await olga.reply(told, "и телефон тоже")  # her reply to it is about the ticket
    assert "и телефон тоже" in desk.staff.last.text and number in desk.staff.last.text
    await agent.send(f"/ticket {number}")
    assert "Agent1: opened for the customer by an agent" in agent.last.text
    await olga.send("/my")
    assert number in olga.last.text


async def test_open_refuses_unknown_customers_bad_ids_and_no_text(desk: Desk) -> None:
    agent, ann = desk.agent(), desk.person(501, "Ann")
    await ann.send("/start")
    staff_before = len(desk.staff.from_bot)
    await agent.send("/open 424242 the printer is broken")
    assert "No customer with Telegram id 424242 has written to the bot; no ticket was opened" in agent.last.text
    await agent.send("/open @ann the printer is broken")
    assert "@ann is not a Telegram id" in agent.last.text
    for usage in ("/open", "/open 501", "/open 501   "):
        await agent.send(usage)
        assert "Usage: /open CUSTOMER_ID text" in agent.last.text, usage
    await agent.send_in(STAFF, "/open 424242 the printer is broken")  # in the staff chat: answered there
    assert "no ticket was opened" in desk.staff.last.text
    assert len(desk.staff.from_bot) == staff_before + 1 and not NUMBER.search(" ".join(desk.staff.texts()))
    await ann.send("/my")
    assert not NUMBER.search(ann.last.text)


async def test_open_for_a_customer_who_blocked_the_bot_says_so(desk: Desk) -> None:
    ann = desk.person(501, "Ann")
    await ann.send("/start")
    await ann.blocks_the_bot()
    agent = desk.agent()
    await agent.send("/open 501 Please install Photoshop on my work computer")
    assert "the customer could not be told (they blocked the bot)" in agent.last.text


async def test_strangers_and_customers_cannot_open_tickets(desk: Desk) -> None:
    ann, eve = desk.person(501, "Ann"), desk.person(666, "Eve", username="eve")
    await ann.send("/start")
    await eve.send("/start")
    staff_before = len(desk.staff.from_bot)
    for who in (eve, ann):
        await who.send("/open 501 the printer is broken")
        assert UNKNOWN in who.last.text
        await who.send_in(STAFF, "/open 501 the printer is broken")
    assert len(desk.staff.from_bot) == staff_before
    await ann.send("/my")
    assert not NUMBER.search(ann.last.text)

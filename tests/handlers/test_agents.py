"""Agents work tickets, in-process: cards and their buttons, replies to ticket messages, agent commands
(usage, arguments, refusals), and strangers, who get nothing more than a customer would."""

from __future__ import annotations

import pytest

from tests.handlers.harness import STAFF, Desk
from tests.handlers.test_customers import register

UNKNOWN = "I don't know that command"
AGENT_COMMANDS = ("queue", "stats", "ticket", "take", "assign", "reply", "ask", "resolve", "close", "reopen",
                  "retype", "priority", "kb", "canned", "open")  # fmt: skip


async def test_card_take_ask_answer_reply_resolve_confirm(desk: Desk) -> None:
    agent = desk.agent()
    ann = desk.person(501, "Ann")
    number = await register(ann, "The printer on floor 2 is jammed and prints nothing at all")
    card = desk.card(number)
    assert "New" in card.text

    answer = await agent.press(card, "🙋 Take")
    assert number in answer["text"]
    assert "Agent1" in card.text and "In progress" in card.text and "🙋 Take" not in card.buttons
    assert "Agent1" in ann.last.text

    await agent.press(card, "❓ Ask for info")
    prompt = desk.staff.find("reply to this message with your question")
    assert prompt.reply_markup["force_reply"] is True
    await agent.reply(prompt, "Which printer model is it?")
    question = ann.chat.find("Which printer model")
    assert number in question.text and "✍️ Reply" in question.buttons and "Waiting" in card.text

    await ann.reply(question, "HP LaserJet 400, error 13.20")
    assert "added to" in ann.last.text
    relay = desk.staff.find("HP LaserJet 400")
    assert relay.reply_to == card.message_id and "Ann" in relay.text and "In progress" in card.text

    await agent.reply(card, "We are sending a technician with a new fuser.")
    assert f"{number} · Support" in ann.last.text and "new fuser" in ann.last.text
    ack = desk.staff.find("Sent to the customer")
    await agent.reply(ack, "He will be there before noon.")  # replying to the acknowledgement works too
    assert "before noon" in ann.last.text

    await agent.press(card, "✅ Resolve")
    await agent.reply(
        desk.staff.find("closing report"), "technical The fuser was worn out; replaced it and printed a test page."
    )
    resolved = ann.chat.find("is resolved")
    assert "fuser was worn out" in resolved.text and "Resolved" in card.text
    await ann.press(resolved, "👍 Yes, it's fixed")
    assert "is closed" in ann.chat.find("is closed").text and "Closed" in card.text
    assert resolved.buttons == []

    await agent.send(f"/ticket {number}")
    details = agent.chat.find("History")
    for fragment in ("New → In progress", "question", "answer", "Resolved → Closed", "Closing report"):
        assert fragment in details.text, fragment


async def test_refusals_corrections_queue_and_two_customers_who_never_cross(desk: Desk) -> None:
    agent1, agent2 = desk.agent(7001), desk.agent(7002)
    ann, bob = desk.person(501, "Ann"), desk.person(502, "Bob")
    a = await register(ann, "My laptop screen flickers and goes black every few minutes")
    b = await register(bob, "I need access to the shared finance folder on the file server")
    await agent2.send(f"/ask {a} When did the flickering start?")
    assert "Question sent" in agent2.last.text
    await agent2.send(f"/ask {b} Which folder exactly, and who approves it?")
    await bob.reply(bob.chat.find("Which folder exactly"), "Finance/2024, approved by Carol")
    await ann.reply(ann.chat.find("When did the flickering"), "Since Monday morning")
    relay_b, relay_a = desk.staff.find("Finance/2024"), desk.staff.find("Since Monday morning")
    assert b in relay_b.text and relay_b.reply_to == desk.card(b).message_id
    assert a in relay_a.text and relay_a.reply_to == desk.card(a).message_id
    await agent1.reply(relay_b, "Access granted, please log out and in again.")
    assert "Access granted" in bob.last.text
    assert not any(b in text or "Finance" in text or "Access granted" in text for text in ann.chat.texts())

    for args, reason in (
        (f"{a} closed", "Only a resolved ticket can be closed"),
        (f"{a} new", "In progress → New is not allowed"),
        (f"{a} sleeping", "Unknown state sleeping"),
        ("INC-999999 closed", "There is no ticket INC-999999"),
    ):
        await agent1.send(f"/status {args}")
        assert reason in agent1.last.text, args
    await agent1.send(f"/resolve {a} done")
    assert "closing report is needed" in agent1.last.text
    await agent1.send(f"/reopen {a}")
    assert "nothing to reopen" in agent1.last.text
    await agent1.send(f"/status {a}")
    assert a in agent1.last.text and "In progress" in agent1.last.text
    assert "❓ Ask for info" not in agent1.last.buttons  # asking prompts in the staff chat only

    await agent1.send(f"/retype {a} software")
    assert "Hardware → Software (Incident, P3 · medium)" in agent1.last.text  # was "hardware → software (incident, P3)"
    await agent1.send(f"/retype {a} gardening")
    assert "Unknown category gardening" in agent1.last.text
    await agent1.send(f"/priority {a} P1")
    assert "P1" in agent1.last.text and "P1 · critical" in desk.card(a).text
    await agent1.send(f"/priority {a} P9")
    assert "Priority must be P1, P2, P3 or P4" in agent1.last.text
    await agent2.send(f"/assign {a} @agent1")
    assert "now assigned to Agent1" in agent2.last.text and "Agent1 from the support team" in ann.last.text
    await agent2.send(f"/assign {a} @nobody")
    assert "@nobody is not an agent" in agent2.last.text

    await agent1.send(f"/resolve {a} technical: Display cable was loose; reseated it and tested for ten minutes.")
    resolved = ann.chat.find("is resolved")
    await ann.press(resolved, "👎 Still a problem")
    assert "back in progress" in ann.last.text and "says it is still a problem" in desk.staff.last.text
    answer = await ann.press_data(resolved, resolved.data_of("👍 Yes, it's fixed") if resolved.buttons else "fx:1:y")
    assert "out of date" in answer["text"]

    await agent1.send("/queue")
    queue = agent1.last
    assert a in queue.text and b in queue.text
    await agent1.press(queue, next(label for label in queue.buttons if a in label))
    assert "still a problem" in agent1.chat.find("History").text
    await agent1.send("/stats")
    assert "By state: In progress: 2" in agent1.last.text


#: a valid rest of the line for each ticket command
VALID_REST = {"ticket": "", "take": "", "assign": "7002", "reply": "hi", "ask": "why?", "resolve": "", "close": "",
              "reopen": "", "retype": "software", "priority": "P1", "status": "resolved",
              "kb": "office-wifi", "escalate": "manager"}  # fmt: skip


@pytest.mark.parametrize("command", VALID_REST)
async def test_every_ticket_command_explains_its_usage_and_unknown_numbers(desk: Desk, command: str) -> None:
    agent = desk.agent()
    await agent.send(f"/{command}")
    usage = agent.last.text
    assert f"/{command}" in usage
    await agent.send(f"/{command} INC-424242 {VALID_REST[command]}")
    assert "There is no ticket INC-424242" in agent.last.text
    await agent.send_in(STAFF, f"/{command}")  # in the staff chat: the same, as a reply to the agent
    assert desk.staff.last.text == usage and desk.staff.last.reply_to is not None


async def test_strangers_get_nothing_more_than_a_customer_would(desk: Desk) -> None:
    ann, eve = desk.person(501, "Ann"), desk.person(666, "Eve", username="eve")
    number = await register(ann, "The projector in meeting room 3 does not turn on")
    card = desk.card(number)
    tid = int(card.data_of("📄 Details").split(":")[2])
    original, staff_before = card.text, len(desk.staff.from_bot)

    for command in AGENT_COMMANDS:
        await eve.send(f"/{command} {number} hi")
        assert UNKNOWN in eve.last.text, command
    await eve.send(f"/status {number}")  # the customer's /status: her own tickets only
    assert "can't find" in eve.last.text
    for command in AGENT_COMMANDS[:6]:
        await eve.send_in(STAFF, f"/{command} {number}")
    await eve.reply(card, "Eve writes to the customer")
    for data in (f"ag:take:{tid}", f"ag:det:{tid}", f"ag:ask:{tid}", f"ag:res:{tid}"):
        assert (await eve.press_data(card, data))["text"], data
    for data in (f"fx:{tid}:y", f"fx:{tid}:n", f"an:{tid}", f"ft:{tid}", "ft:new", f"rt:{tid}:5"):
        answer = await eve.press_data(eve.last, data)
        assert "out of date" in answer["text"] or "earlier message" in answer["text"] or "no longer" in answer["text"]
    assert (await eve.press_data(eve.last, "ag:take:999999"))["text"] == "Only support agents can do this."

    assert len(desk.staff.from_bot) == staff_before and card.text == original and "🙋 Take" in card.buttons
    assert not any("Eve" in text or text == "hi" for text in ann.chat.texts())


async def test_anonymous_admins_and_channels_are_never_agents(desk: Desk) -> None:
    ann = desk.person(501, "Ann")
    number = await register(ann, "The scanner on floor 4 shows a paper jam error all the time")
    card = desk.card(number)
    staff_before = len(desk.staff.from_bot)
    admin = {"id": 1087968824, "is_bot": True, "first_name": "Group", "username": "GroupAnonymousBot"}
    anonymous = {"sender_chat": {"id": STAFF, "type": "supergroup", "title": "Support staff"}, "from": admin}
    agent = desk.agent()  # the message's "from" is the anonymous admin bot, as Telegram sends it
    await agent.write({"text": f"/take {number}", **anonymous}, chat=STAFF)
    await agent.write({"text": "Anonymous reply", **anonymous}, chat=STAFF, reply_to=card)
    assert len(desk.staff.from_bot) == staff_before and "🙋 Take" in card.buttons


async def test_a_russian_agent_reads_every_state_in_russian(desk: Desk) -> None:
    """Refusals, confirmations, the queue and the history name states from the catalog, not by their codes."""
    ann = desk.person(501, "Ann")
    number = await register(ann, "The printer on floor 2 is jammed and prints nothing at all")
    agent = desk.person(7002, "Агент", lang="ru")
    await agent.send(f"/take {number}")
    for args, reason in (
        ("new", f"{number}: переход В работе → Новая не разрешён. Из статуса «В работе» можно перейти в: "),
        ("closed", f"а {number} в статусе В работе"),
        ("in_progress", f"{number} уже в статусе В работе"),
    ):
        await agent.send(f"/status {number} {args}")
        assert reason in agent.last.text, args
    assert (
        "Ждёт клиента (waiting_customer), Решена (resolved), Отменена (cancelled)."
        in agent.chat.find("не разрешён").text
    )
    await agent.send(f"/reopen {number}")
    assert f"{number} открыта (В работе)" in agent.last.text
    await agent.send(f"/status {number} waiting_customer")
    assert f"{number}: В работе → Ждёт клиента" in agent.last.text
    await agent.send("/queue")
    assert "· Ждёт клиента ·" in agent.last.text
    await agent.send(f"/ticket {number}")
    assert "Новая → В работе" in agent.last.text and "Ждёт клиента" in agent.last.text
    await agent.send(f"/status {number} cancelled")
    await agent.send(f"/reply {number} Здравствуйте")
    assert f"{number} в статусе Отменена" in agent.last.text
    codes = ("in_progress", "waiting_customer", "cancelled")
    said = [m.text.replace(f"/status {number} cancelled", "/status") for m in agent.chat.from_bot]  # a command
    assert not [text for text in said for code in codes if f" {code}" in text or f"→ {code}" in text]


@pytest.mark.parametrize("command", ["ticket", "take", "close", "major", "unlink"])
async def test_a_number_followed_by_words_gets_the_usage_not_there_is_no_such_ticket(desk: Desk, command: str) -> None:
    agent = desk.agent()
    number = await register(desk.person(501, "Ann"), "The printer on floor 2 is jammed and prints nothing at all")
    await agent.send(f"/{command}")
    usage = agent.last.text
    await agent.send(f"/{command} {number} fixed it")
    assert agent.last.text == usage  # was "There is no ticket INC-000001 fixed it" about a ticket that exists
    assert "New" in desk.card(number).text  # and nothing was done
    await agent.send(f"/{command} {number.replace('-', ' ')}")  # "INC 000001" is still one number
    assert agent.last.text != usage and "There is no ticket" not in agent.last.text


async def test_a_resolved_ticket_is_not_listed_as_closed_and_stats_count_without_bad_plurals(desk: Desk) -> None:
    agent, olga = desk.agent(), desk.person(601, "Ольга", lang="ru")
    number = await register(olga, "Принтер на втором этаже зажевал бумагу и не печатает")
    await agent.send(f"/resolve {number} technical заменили ролик подачи")
    await olga.send("/my")
    assert "Недавно решённые и закрытые" in olga.last.text and "Решена" in olga.last.text  # was "Недавно закрытые"
    await agent.send("/stats")
    assert "Now · tickets: 1, not yet closed: 1" in agent.last.text  # was "1 tickets, 1 not yet closed"


async def test_an_agents_first_start_says_where_the_work_is(desk: Desk) -> None:
    agent = desk.agent()
    await agent.send("/start")
    assert "Hello, Agent1" in agent.last.text and "You are an agent of this desk" in agent.last.text
    assert "/queue" in agent.last.text and "/help" in agent.last.text
    ann = desk.person(501, "Ann")
    await ann.send("/start")
    assert "agent" not in ann.last.text.lower()  # customers are not told about it


async def test_closing_a_cancelled_ticket_is_not_told_to_resolve_it_first(desk: Desk) -> None:
    agent = desk.agent()
    number = await register(desk.person(501, "Ann"), "The printer on floor 2 is jammed and prints nothing at all")
    await agent.send(f"/status {number} cancelled")
    await agent.send(f"/close {number}")
    refusal = agent.last.text
    assert "Resolve it first" not in refusal and "/status" not in refusal  # advice it could not follow
    assert refusal.startswith(f"{number}: Cancelled → Closed is not allowed") and "In progress" in refusal


async def test_ticket_history_names_every_event_in_the_agents_language(desk: Desk) -> None:
    """/ticket N's history was "· Агент: retype: …", "priority", "question": event codes, not words."""
    ann = desk.person(501, "Ann")
    number = await register(ann, "The printer on floor 2 is jammed and prints nothing at all")
    agent = desk.person(7002, "Агент", lang="ru")
    await agent.send(f"/ask {number} Какая модель принтера?")
    await ann.reply(ann.chat.find("Какая модель"), "HP LaserJet 400")
    await agent.send(f"/priority {number} P1")
    await agent.send(f"/retype {number} software")
    assert "Оборудование → Программы (Инцидент, P1 · критический)" in agent.last.text  # the notice, in words too
    await agent.send(f"/ticket {number}")
    history = agent.chat.find("История").text
    for words in (
        "вопрос клиенту: Какая модель",
        "ответ клиента: HP LaserJet",
        "изменён приоритет",
        "изменена категория: Оборудование → Программы",
    ):
        assert words in history, words
    lines = history[history.index("История") :].splitlines()[1:]
    assert not [line for line in lines for code in ("question", "answer", "priority", "retype") if f": {code}" in line]


async def test_priority_and_retype_refuse_a_cancelled_or_closed_ticket_like_every_other_change(desk: Desk) -> None:
    """They changed a cancelled ticket's priority and category (and its SLA) as if it were open."""
    agent, olga = desk.agent(), desk.person(7002, "Агент", lang="ru")
    ann = desk.person(501, "Ann")
    cancelled = await register(ann, "The printer on floor 2 is jammed and prints nothing at all")
    await agent.send(f"/status {cancelled} cancelled")
    card = desk.card(cancelled).text
    await agent.send(f"/priority {cancelled} P1")
    assert agent.last.text == f"{cancelled} is Cancelled. Reopen it first: /reopen {cancelled}"
    await olga.send(f"/retype {cancelled} network")
    assert f"{cancelled} в статусе Отменена" in olga.last.text and f"/reopen {cancelled}" in olga.last.text
    assert desk.card(cancelled).text == card  # nothing changed

    closed = await register(ann, "I need access to the shared finance folder on the file server")
    await agent.send(f"/resolve {closed} other: granted the access and checked it with the customer.")
    await agent.send(f"/close {closed}")
    await agent.send(f"/retype {closed} change")
    assert agent.last.text == f"{closed} is Closed. Reopen it first: /reopen {closed}"
    await agent.send(f"/reopen {closed}")
    await agent.send(f"/priority {closed} P2")  # open again: corrected as usual
    assert "P2" in agent.last.text and "Reopen" not in agent.last.text


async def test_an_agent_assigned_before_ever_writing_to_the_bot_is_a_support_agent_to_the_customer(
    desk: Desk,
) -> None:
    """/assign N 7002 before agent 7002 ever wrote: the staff read the id (it is in AGENT_IDS), the customer
    reads "a support agent", never a bare Telegram id, in the notice, the status card and its history."""
    agent1 = desk.agent()
    ann = desk.person(501, "Ann")
    number = await register(ann, "The scanner on floor 3 does not turn on at all")
    await agent1.send(f"/assign {number} 7002")
    assert "now assigned to 7002" in agent1.last.text
    notice = ann.last.text
    assert "an agent of the support team is now working on your request" in notice and "7002" not in notice
    await ann.send(f"/status {number}")
    status = ann.last.text
    assert "Assignee: a support agent" in status and "assigned to a support agent" in status
    assert "7002" not in status
    await agent1.send(f"/assign {number} @agent1")  # a named agent is named, as before
    assert "Agent1 from the support team" in ann.last.text
    await ann.send(f"/status {number}")
    assert "Assignee: Agent1" in ann.last.text and "assigned to Agent1" in ann.last.text


async def test_help_in_the_staff_chat_lists_the_agent_commands(desk: Desk) -> None:
    """An agent's /help in the staff chat was not answered at all; a stranger's there still is not."""
    agent, eve = desk.agent(), desk.person(666, "Eve")
    await agent.send_in(STAFF, "/help")
    answer = desk.staff.last
    assert answer.text.startswith("Agent commands") and "/take N" in answer.text and "/kb N" in answer.text
    assert "Describe a problem" not in answer.text  # the customer's part is for private chats
    before = len(desk.staff.from_bot)
    await eve.send_in(STAFF, "/help")
    assert len(desk.staff.from_bot) == before
    await agent.send("/help")  # in private: the customer's help and the agent's, as before
    assert "How I can help" in agent.last.text and "Agent commands" in agent.last.text

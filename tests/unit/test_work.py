"""Agent operations and the customer's side of a ticket's conversation, on a real database."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from sqlmodel import col, select

from bot.exports import export_labels
from helpdesk import conversation, tickets, work
from helpdesk.people import Person, ensure_customer, remember_agent
from helpdesk.policy import DeskPolicy
from helpdesk.vocabulary import Category, Impact, Priority, State, Urgency
from helpdesk.work import Actor, Content, WorkError
from storage import repos
from storage.db import Database
from storage.models import Attachment, Customer, LabelledExample, OutboxMessage, Ticket, TicketEvent

STAFF = -100123
POLICY = DeskPolicy(agent_ids=frozenset({7001, 7002}), staff_chat_id=STAFF)
AGENT = Actor(7001, "Agent One", "agent1")
OTHER = Actor(7002, "Agent Two", "agent2")


async def customer(db: Database, user_id: int = 501, name: str = "Ann", lang: str | None = "en") -> Customer:
    async with db.session() as session:
        return await ensure_customer(
            session, Person(user_id=user_id, chat_id=user_id, first_name=name, language_code=lang)
        )


async def ticket_for(db: Database, who: Customer, category: Category = Category.HARDWARE, text: str = "") -> Ticket:
    async with db.session() as session:
        new = tickets.NewTicket(
            description=text or "The printer <jams> & prints nothing",
            classification=tickets.Classification(
                category.ticket_type, category, Priority.P3, Impact.INDIVIDUAL, Urgency.BLOCKED, 0.9, "test"
            ),
        )
        return await tickets.register(session, who, new, POLICY)


async def act(db: Database, ticket: Ticket, operation, *args):
    """Run `operation(session, locked ticket, *args, POLICY)` in one transaction; returns (result, ticket)."""
    async with db.session() as session:
        locked = await work.lock(session, ticket.id)
        result = await operation(session, locked, *args, POLICY)
        return result, locked


async def rows(db: Database, ticket: Ticket | None = None, chat_id: int | None = None) -> list[OutboxMessage]:
    async with db.read() as session:
        stmt = select(OutboxMessage).order_by(col(OutboxMessage.id))
        if ticket is not None:
            stmt = stmt.where(OutboxMessage.ticket_id == ticket.id)
        if chat_id is not None:
            stmt = stmt.where(OutboxMessage.chat_id == chat_id)
        return list((await session.exec(stmt)).all())


async def events(db: Database, ticket: Ticket) -> list[TicketEvent]:
    async with db.read() as session:
        return list(await repos.events_of(session, ticket.id))


async def fresh(db: Database, ticket: Ticket) -> Ticket:
    async with db.read() as session:
        return await session.get(Ticket, ticket.id)


def text_of(row: OutboxMessage) -> str:
    return row.payload.get("text") or row.payload.get("caption") or ""


# -- assignment ------------------------------------------------------------------------------------------


async def test_take_assigns_starts_work_tells_customer_and_edits_card(db: Database) -> None:
    olga = await customer(db, 601, "Ольга", "ru")
    ticket = await ticket_for(db, olga)
    notice, taken = await act(db, ticket, work.take, AGENT)
    assert notice.key == "agents.done.taken"
    assert taken.assignee_id == AGENT.user_id and taken.assignee_name == "Agent One"
    assert taken.state == "in_progress" and taken.first_response_at is not None
    assert [e.kind for e in await events(db, ticket)] == ["created", "assign", "state"]
    to_customer = [r for r in await rows(db, ticket, 601)]
    assert len(to_customer) == 1 and to_customer[0].link_kind == "to_customer"
    assert "вашей заявкой занимается Agent One" in text_of(to_customer[0])  # in the customer's language
    edit = [r for r in await rows(db, ticket) if r.edits_card][-1]
    assert "Agent One" in edit.payload["text"]
    assert "ag:take" not in json.dumps(edit.payload["reply_markup"])  # no Take button once taken

    again, _ = await act(db, ticket, work.take, AGENT)
    assert again.key == "agents.done.already_yours"
    over, taken = await act(db, ticket, work.take, OTHER)
    assert over.key == "agents.done.taken_over" and over.values["previous"] == "Agent One"
    assert taken.assignee_id == OTHER.user_id


async def test_assign_needs_an_agent_known_by_id_or_username(db: Database) -> None:
    ann = await customer(db)
    ticket = await ticket_for(db, ann)
    async with db.session() as session:
        assert await work.resolve_agent(session, POLICY, "501") is None  # not in AGENT_IDS
        assert await work.resolve_agent(session, POLICY, "@agent2") is None  # never seen
        await remember_agent(session, Person(7002, 7002, "Agent Two", username="Agent2"))
    async with db.session() as session:
        by_name = await work.resolve_agent(session, POLICY, "@agent2")
        by_id = await work.resolve_agent(session, POLICY, "7002")
    assert by_name == by_id == Actor(7002, "Agent Two", "Agent2")
    notice, assigned = await act(db, ticket, work.assign, AGENT, by_name)
    assert notice.key == "agents.done.assigned" and assigned.assignee_id == 7002
    assign = next(e for e in await events(db, ticket) if e.kind == "assign")
    assert assign.actor_id == AGENT.user_id and assign.data["assignee_id"] == 7002


# -- talking to the customer -----------------------------------------------------------------------------


async def test_reply_goes_to_customer_headed_with_number_and_counts_as_first_response(db: Database) -> None:
    ann = await customer(db)
    ticket = await ticket_for(db, ann)
    notice, replied = await act(db, ticket, work.reply, AGENT, Content(text="Try <b>turning</b> it off & on"))
    assert notice.key == "agents.done.replied"
    assert replied.state == "in_progress" and replied.first_response_at is not None
    (row,) = await rows(db, ticket, 501)
    assert row.link_kind == "to_customer" and row.ticket_id == ticket.id
    assert text_of(row).startswith(f"💬 <b>{ticket.number}</b> · Support:")
    assert "Try &lt;b&gt;turning&lt;/b&gt; it off &amp; on" in text_of(row)
    reply = next(e for e in await events(db, ticket) if e.kind == "reply")
    assert reply.actor_id == AGENT.user_id and reply.note == "Try <b>turning</b> it off & on"


async def test_an_agents_formatting_reaches_the_customer_and_a_too_long_one_goes_plain(db: Database) -> None:
    ann = await customer(db)
    ticket = await ticket_for(db, ann)
    formatted = Content(
        text="Press Restart & wait", html='Press <b>Restart</b> &amp; <a href="https://x.example">wait</a>'
    )
    await act(db, ticket, work.reply, AGENT, formatted)
    (row,) = await rows(db, ticket, 501)
    assert 'Press <b>Restart</b> &amp; <a href="https://x.example">wait</a>' in text_of(row)
    reply = next(e for e in await events(db, ticket) if e.kind == "reply")
    assert reply.note == "Press Restart & wait"  # the record keeps the words
    long_text = "word " * 800
    await act(db, ticket, work.reply, AGENT, Content(text=long_text, html="<b>" + long_text + "</b>"))
    latest = (await rows(db, ticket, 501))[-1]
    assert "<b>word" not in text_of(latest) and "word word" in text_of(latest)  # cut as plain text, never as HTML
    photo = {"kind": "photo", "file_id": "F1", "chat_id": STAFF, "message_id": 78, "caption": "see here"}
    await act(db, ticket, work.reply, AGENT, Content(file=photo, chat_id=STAFF, message_id=78, html="<i>see</i> here"))
    copied = (await rows(db, ticket, 501))[-1]
    assert copied.method == "copyMessage" and "<i>see</i> here" in copied.payload["caption"]


async def test_reply_with_a_file_copies_it_and_keeps_the_attachment(db: Database) -> None:
    ann = await customer(db)
    ticket = await ticket_for(db, ann)
    photo = {"kind": "photo", "file_id": "F1", "chat_id": STAFF, "message_id": 77, "caption": "like this"}
    await act(db, ticket, work.reply, AGENT, Content(file=photo, chat_id=STAFF, message_id=77))
    (row,) = await rows(db, ticket, 501)
    assert row.method == "copyMessage" and row.payload["from_chat_id"] == STAFF and row.payload["message_id"] == 77
    assert ticket.number in row.payload["caption"] and "like this" in row.payload["caption"]
    async with db.read() as session:
        files = (await session.exec(select(Attachment).where(Attachment.ticket_id == ticket.id))).all()
    assert [f.file_id for f in files] == ["F1"] and files[0].event_id is not None


async def test_no_reply_to_a_closed_ticket_and_no_empty_reply(db: Database) -> None:
    ann = await customer(db)
    ticket = await ticket_for(db, ann)
    with pytest.raises(WorkError) as empty:
        await act(db, ticket, work.reply, AGENT, Content(text="  "))
    assert empty.value.key == "agents.error.empty_reply"
    await act(db, ticket, work.change_state, AGENT, State.CANCELLED)
    with pytest.raises(WorkError) as closed:
        await act(db, ticket, work.reply, AGENT, Content(text="hello"))
    assert closed.value.key == "agents.error.not_open"
    assert "/reopen" in closed.value.text("en")


async def test_ask_waits_for_customer_and_their_answer_resumes_the_ticket(db: Database) -> None:
    ann = await customer(db)
    ticket = await ticket_for(db, ann)
    before = await fresh(db, ticket)
    notice, asked = await act(db, ticket, work.ask, AGENT, Content(text="Which model?"))
    assert notice.key == "agents.done.asked"
    assert asked.state == "waiting_customer" and asked.sla_paused_at is not None and asked.reminder_due_at
    (question,) = await rows(db, ticket, 501)
    assert "Which model?" in text_of(question)
    assert question.payload["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == f"an:{ticket.id}"

    # the customer's next free message is the answer: it is their only ticket waiting on them
    async with db.session() as session:
        me = await repos.customer_by_telegram_id(session, 501)
        routed = await conversation.route(
            session, me, Content(text="HP 400, error 13", chat_id=501, message_id=9), POLICY
        )
    assert routed.handled and "added to" in routed.answers[0].text
    answered = await fresh(db, ticket)
    assert answered.state == "in_progress" and answered.sla_paused_at is None and answered.reminder_due_at is None
    assert answered.resolution_due >= before.resolution_due  # the pause was given back
    kinds = [e.kind for e in await events(db, ticket)]
    assert kinds[-2:] == ["answer", "state"]
    relay = (await rows(db, ticket, STAFF))[-2]
    assert relay.reply_to_card and relay.link_kind == "relay" and "HP 400, error 13" in text_of(relay)
    async with db.read() as session:
        link = await repos.link_of(session, 501, 9)
    assert link is not None and link.kind == "customer_msg" and link.ticket_id == ticket.id


async def test_free_message_with_several_open_tickets_asks_which_one(db: Database) -> None:
    ann = await customer(db)
    first = await ticket_for(db, ann, text="Printer one is broken")
    second = await ticket_for(db, ann, text="Monitor two is flickering")
    async with db.session() as session:
        me = await repos.customer_by_telegram_id(session, 501)
        routed = await conversation.route(
            session, me, Content(text="It started yesterday", chat_id=501, message_id=5), POLICY
        )
    assert routed.handled
    (chooser,) = routed.answers
    data = [row[0][1] for row in chooser.buttons]
    assert data == [f"ft:{second.id}", f"ft:{first.id}", "ft:new"]
    async with db.session() as session:
        me = await repos.customer_by_telegram_id(session, 501)
        assert me.pending["choose"]["text"] == "It started yesterday"
        result = await conversation.choose(session, me, str(first.id), POLICY)
    assert result.kind == "attached"
    assert [e.kind for e in await events(db, first)][-1] == "message"
    assert [e.kind for e in await events(db, second)] == ["created"]
    async with db.session() as session:
        me = await repos.customer_by_telegram_id(session, 501)
        assert me.pending == {}
        assert (await conversation.choose(session, me, str(first.id), POLICY)).kind == "outdated"

    # "New request" hands the kept message back for the intake
    async with db.session() as session:
        me = await repos.customer_by_telegram_id(session, 501)
        await conversation.route(session, me, Content(text="Also the scanner", chat_id=501, message_id=6), POLICY)
    async with db.session() as session:
        me = await repos.customer_by_telegram_id(session, 501)
        result = await conversation.choose(session, me, "new", POLICY)
    assert result.kind == "new" and result.content.text == "Also the scanner"


async def test_no_open_tickets_leaves_the_message_to_the_intake(db: Database) -> None:
    await customer(db)
    async with db.session() as session:
        me = await repos.customer_by_telegram_id(session, 501)
        routed = await conversation.route(session, me, Content(text="Hello", chat_id=501, message_id=3), POLICY)
    assert not routed.handled and not routed.answers


async def test_reply_to_a_linked_message_and_the_reply_button(db: Database) -> None:
    ann = await customer(db)
    first = await ticket_for(db, ann, text="Printer one is broken")
    second = await ticket_for(db, ann, text="Monitor two is flickering")
    async with db.session() as session:
        await repos.add_link(session, 501, 40, first.id, "to_customer")
        me = await repos.customer_by_telegram_id(session, 501)
        routed = await conversation.route(
            session, me, Content(text="about the printer", chat_id=501, message_id=41), POLICY, reply_to=40
        )
    assert routed.handled and first.number in routed.answers[0].text
    async with db.session() as session:
        me = await repos.customer_by_telegram_id(session, 501)
        prompt = await conversation.start_answer(session, me, second.id, POLICY)
        assert prompt is not None and prompt.ticket_id == second.id and prompt.reply_markup == {"force_reply": True}
    async with db.session() as session:
        me = await repos.customer_by_telegram_id(session, 501)
        routed = await conversation.route(
            session, me, Content(text="about the monitor", chat_id=501, message_id=42), POLICY
        )
    assert routed.handled and second.number in routed.answers[0].text
    assert [e.note for e in await events(db, second)][-1] == "about the monitor"

    # a reply to a message of a closed ticket: told so, and the intake takes the message
    await act(db, first, work.change_state, AGENT, State.CANCELLED)
    async with db.session() as session:
        me = await repos.customer_by_telegram_id(session, 501)
        routed = await conversation.route(
            session, me, Content(text="printer again", chat_id=501, message_id=43), POLICY, reply_to=40
        )
    assert not routed.handled and "already closed" in routed.answers[0].text


async def test_another_customers_links_and_buttons_do_not_reach_a_ticket(db: Database) -> None:
    ann = await customer(db)
    bob = await customer(db, 502, "Bob")
    ticket = await ticket_for(db, ann)
    await act(db, ticket, work.resolve, AGENT, "Replaced the fuser unit and tested.")
    async with db.session() as session:
        await repos.add_link(session, 501, 40, ticket.id, "to_customer")
        me = await repos.customer_by_telegram_id(session, 502)
        # Bob cannot have Ann's message id in his chat; even a forged lookup finds nothing of his
        assert await conversation.linked_ticket(session, me, 501, 40) is None
        assert await conversation.confirm_fix(session, me, ticket.id, True, POLICY) is None
        assert await conversation.start_answer(session, me, ticket.id, POLICY) is None
        routed = await conversation.route(session, me, Content(text="hi", chat_id=502, message_id=1), POLICY)
    assert not routed.handled
    assert (await fresh(db, ticket)).state == "resolved"
    assert bob.id != ann.id


# -- state -----------------------------------------------------------------------------------------------


async def test_invalid_transitions_give_clear_reasons(db: Database) -> None:
    ann = await customer(db)
    ticket = await ticket_for(db, ann)
    cases = [
        (State.CLOSED, "agents.transition.close_unresolved", "Only a resolved ticket can be closed"),
        (State.NEW, "agents.transition.same", "already new"),
        (State.RESOLVED, "agents.transition.needs_report", "/resolve"),
    ]
    for target, key, words in cases:
        with pytest.raises(WorkError) as refused:
            await act(db, ticket, work.change_state, AGENT, target)
        assert refused.value.key == key and words in refused.value.text("en")
        assert refused.value.text("ru") != refused.value.text("en")
    await act(db, ticket, work.take, AGENT)
    with pytest.raises(WorkError) as back:
        await act(db, ticket, work.change_state, AGENT, State.NEW)
    assert "in_progress → new is not allowed" in back.value.text("en")
    with pytest.raises(WorkError) as short:
        await act(db, ticket, work.resolve, AGENT, "done")
    assert short.value.key == "agents.error.report_needed"
    with pytest.raises(WorkError) as reopen:
        await act(db, ticket, work.reopen, AGENT)
    assert reopen.value.key == "agents.error.already_open"
    assert (await fresh(db, ticket)).state == "in_progress"


async def test_state_change_is_an_event_and_the_customer_is_told_in_their_language(db: Database) -> None:
    olga = await customer(db, 601, "Ольга", "ru")
    ticket = await ticket_for(db, olga)
    notice, changed = await act(db, ticket, work.change_state, AGENT, State.WAITING_CUSTOMER)
    assert notice.values == {"number": ticket.number, "from_state": "new", "to_state": "waiting_customer"}
    assert changed.sla_paused_at is not None
    state = [e for e in await events(db, ticket) if e.kind == "state"][-1]
    assert (state.from_state, state.to_state, state.actor_id) == ("new", "waiting_customer", AGENT.user_id)
    assert "новый статус" in text_of((await rows(db, ticket, 601))[-1])


async def test_resolve_confirm_closes(db: Database) -> None:
    ann = await customer(db)
    ticket = await ticket_for(db, ann)
    notice, resolved = await act(db, ticket, work.resolve, AGENT, "The fuser was worn; replaced it.")
    assert notice.key == "agents.done.resolved"
    assert resolved.state == "resolved" and resolved.resolution_report == "The fuser was worn; replaced it."
    assert resolved.resolved_at and resolved.auto_close_due_at and resolved.first_response_at
    message = (await rows(db, ticket, 501))[-1]
    buttons = [b["callback_data"] for b in message.payload["reply_markup"]["inline_keyboard"][0]]
    assert buttons == [f"fx:{ticket.id}:y", f"fx:{ticket.id}:n"]
    assert "The fuser was worn" in text_of(message)
    async with db.session() as session:
        me = await repos.customer_by_telegram_id(session, 501)
        answer = await conversation.confirm_fix(session, me, ticket.id, True, POLICY)
    assert answer is not None and "closed" in answer.text
    closed = await fresh(db, ticket)
    assert closed.state == "closed" and closed.closed_at and closed.auto_close_due_at is None
    assert closed.survey_due_at is not None
    state = [e for e in await events(db, ticket) if e.kind == "state"][-1]
    assert (state.actor_kind, state.to_state) == ("customer", "closed")
    async with db.session() as session:  # the button again: outdated
        me = await repos.customer_by_telegram_id(session, 501)
        assert await conversation.confirm_fix(session, me, ticket.id, True, POLICY) is None


async def test_still_a_problem_reopens_and_tells_the_staff(db: Database) -> None:
    ann = await customer(db)
    ticket = await ticket_for(db, ann)
    await act(db, ticket, work.resolve, AGENT, "Restarted the print spooler.")
    async with db.session() as session:
        me = await repos.customer_by_telegram_id(session, 501)
        answer = await conversation.confirm_fix(session, me, ticket.id, False, POLICY)
    assert answer is not None and "back in progress" in answer.text
    reopened = await fresh(db, ticket)
    assert reopened.state == "in_progress" and reopened.resolved_at is None and reopened.auto_close_due_at is None
    (note,) = [r for r in await rows(db, ticket, STAFF) if "still a problem" in text_of(r)]
    assert note.reply_to_card and note.link_kind == "relay" and "Ann" in text_of(note)
    async with db.read() as session:
        me = await repos.customer_by_telegram_id(session, 501)
    assert me.pending["answer"] == ticket.id


async def test_close_and_reopen_commands(db: Database) -> None:
    ann = await customer(db)
    ticket = await ticket_for(db, ann)
    await act(db, ticket, work.resolve, AGENT, "Cable replaced, works again.")
    notice, closed = await act(db, ticket, work.close, AGENT)
    assert notice.key == "agents.done.closed" and closed.state == "closed"
    async with db.session() as session:
        reopened = await work.lock(session, ticket.id)
        notice = await work.reopen(session, reopened, AGENT, POLICY, "customer called back")
    assert notice.key == "agents.done.reopened" and reopened.state == "in_progress" and reopened.closed_at is None
    assert "reopened" in text_of((await rows(db, ticket, 501))[-1])


# -- triage corrections ----------------------------------------------------------------------------------


async def test_retype_keeps_the_number_recomputes_sla_and_records_a_label(db: Database) -> None:
    ann = await customer(db)
    ticket = await ticket_for(db, ann, Category.HARDWARE, "My account is hacked, strange logins")
    before = await fresh(db, ticket)
    notice, retyped = await act(db, ticket, work.retype, AGENT, Category.SECURITY)
    assert notice.key == "agents.done.retyped"
    assert retyped.number == before.number and retyped.category == "security" and retyped.ticket_type == "incident"
    assert retyped.priority == "P2"  # a security incident is never below P2
    assert retyped.resolution_due < before.resolution_due
    _, to_request = await act(db, ticket, work.retype, AGENT, Category.ACCESS)
    assert to_request.ticket_type == "service_request" and to_request.number == before.number
    assert [e.kind for e in await events(db, ticket)][-2:] == ["retype", "retype"]
    async with db.read() as session:
        labels = (await session.exec(select(LabelledExample).order_by(col(LabelledExample.id)))).all()
    assert [(x.ticket_type, x.category, x.priority) for x in labels] == [
        ("incident", "security", "P2"),
        ("service_request", "access", "P2"),
    ]
    assert labels[0].text == "My account is hacked, strange logins" and labels[0].actor_id == AGENT.user_id
    same, _ = await act(db, ticket, work.retype, AGENT, Category.ACCESS)
    assert same.key == "agents.done.retype_same"


async def test_priority_recomputes_sla_and_export_labels_prints_jsonl(db: Database, database_url, capsys) -> None:
    ann = await customer(db)
    ticket = await ticket_for(db, ann)
    before = await fresh(db, ticket)
    _, raised = await act(db, ticket, work.set_priority, AGENT, Priority.P1)
    assert raised.priority == "P1" and raised.first_response_due < before.first_response_due
    assert [e.kind for e in await events(db, ticket)][-1] == "priority"
    await act(db, ticket, work.retype, AGENT, Category.SOFTWARE)
    assert await export_labels(SimpleNamespace(database_url=database_url), "-") == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert lines == [
        {"text": "The printer <jams> & prints nothing", "type": "incident", "category": "software", "priority": "P1"}
    ]


def test_parsing_what_agents_type() -> None:
    assert work.parse_state("in-progress") == State.IN_PROGRESS
    assert work.parse_state("waiting") == State.WAITING_CUSTOMER
    assert work.parse_state("Closed") == State.CLOSED
    assert work.parse_state("sleeping") is None
    assert work.parse_category("ACCESS") == Category.ACCESS
    assert work.parse_category("доступ") == Category.ACCESS
    assert work.parse_category("nonsense") is None
    assert work.parse_priority("p2") == Priority.P2 and work.parse_priority("3") == Priority.P3
    assert work.parse_priority("P5") is None


# -- edits and views -------------------------------------------------------------------------------------


async def test_edits_of_linked_messages_are_relayed_others_get_a_note(db: Database) -> None:
    ann = await customer(db)
    ticket = await ticket_for(db, ann)
    async with db.session() as session:
        await repos.add_link(session, 501, 12, ticket.id, "customer_msg")
        me = await repos.customer_by_telegram_id(session, 501)
        relayed = await conversation.relay_edit(session, me, 501, 12, "room 206, not 204", POLICY)
        ignored = await conversation.relay_edit(session, me, 501, 13, "something", POLICY)
    assert "passed on" in relayed.text and "can't pick up edits" in ignored.text
    note = (await rows(db, ticket, STAFF))[-1]
    assert "✏️" in text_of(note) and "edited: room 206, not 204" in text_of(note) and note.reply_to_card


async def test_queue_and_details(db: Database) -> None:
    ann = await customer(db)
    low = await ticket_for(db, ann, text="Low one")
    high = await ticket_for(db, ann, text="High one")
    await act(db, high, work.set_priority, AGENT, Priority.P1)
    await act(db, low, work.ask, AGENT, Content(text="Which room?"))
    async with db.read() as session:
        text, buttons = await work.queue(session, "en")
        locked = await session.get(Ticket, low.id)
        details, files = await work.details(session, locked, "en")
    assert text.index(high.number) < text.index(low.number)
    assert [data for row in buttons for _, data in row] == [f"ag:det:{high.id}", f"ag:det:{low.id}"]
    assert "History" in details and "new → waiting_customer" in details and "Which room?" in details
    assert files == 0

"""Agents' actions on tickets (helpdesk.agent_actions), on a real database: what changes, what the
customer is told, what is refused and why."""

from __future__ import annotations

import json

import pytest
from sqlmodel import col, select

from bot.config import Settings
from bot.exports import export_labels
from helpdesk import agent_actions, customer_messages
from helpdesk.agent_actions import Refusal
from helpdesk.content import Content
from helpdesk.people import Actor, Person, find_agent, remember_agent
from helpdesk.vocabulary import Category, Priority, State
from storage import repos
from storage.db import Database
from storage.models import Attachment, LabelledExample
from tests.unit.desk import (
    AGENT,
    OTHER,
    POLICY,
    STAFF,
    act,
    customer,
    events_of,
    fresh,
    rows_of,
    text_of,
    ticket_for,
)


async def test_take_assigns_starts_work_tells_customer_and_edits_card(db: Database) -> None:
    olga = await customer(db, 601, "Ольга", "ru")
    ticket = await ticket_for(db, olga)
    notice, taken = await act(db, ticket, agent_actions.take, AGENT)
    assert notice.key == "agents.done.taken"
    assert taken.assignee_id == AGENT.user_id and taken.assignee_name == "Agent One"
    assert taken.state == "in_progress" and taken.first_response_at is not None
    assert [e.kind for e in await events_of(db, ticket)] == ["created", "assign", "state"]
    to_customer = [r for r in await rows_of(db, ticket, 601)]
    assert len(to_customer) == 1 and to_customer[0].link_kind == "to_customer"
    assert "вашей заявкой занимается Agent One" in text_of(to_customer[0])  # in the customer's language
    edit = [r for r in await rows_of(db, ticket) if r.edits_card][-1]
    assert "Agent One" in edit.payload["text"]
    assert "ag:take" not in json.dumps(edit.payload["reply_markup"])  # no Take button once taken

    again, _ = await act(db, ticket, agent_actions.take, AGENT)
    assert again.key == "agents.done.already_yours"
    over, taken = await act(db, ticket, agent_actions.take, OTHER)
    assert over.key == "agents.done.taken_over" and over.values["previous"] == "Agent One"
    assert taken.assignee_id == OTHER.user_id


async def test_assign_needs_an_agent_known_by_id_or_username(db: Database) -> None:
    ann = await customer(db)
    ticket = await ticket_for(db, ann)
    async with db.session() as session:
        assert await find_agent(session, POLICY, "501") is None  # not in AGENT_IDS
        assert await find_agent(session, POLICY, "@agent2") is None  # never seen
        await remember_agent(session, Person(7002, 7002, "Agent Two", username="Agent2"))
    async with db.session() as session:
        by_name = await find_agent(session, POLICY, "@agent2")
        by_id = await find_agent(session, POLICY, "7002")
    assert by_name == by_id == Actor(7002, "Agent Two", "Agent2")
    notice, assigned = await act(db, ticket, agent_actions.assign, AGENT, by_name)
    assert notice.key == "agents.done.assigned" and assigned.assignee_id == 7002
    assign = next(e for e in await events_of(db, ticket) if e.kind == "assign")
    assert assign.actor_id == AGENT.user_id and assign.data["assignee_id"] == 7002


async def test_reply_goes_to_customer_headed_with_number_and_counts_as_first_response(db: Database) -> None:
    ann = await customer(db)
    ticket = await ticket_for(db, ann)
    notice, replied = await act(db, ticket, agent_actions.reply, AGENT, Content(text="Try <b>turning</b> it off & on"))
    assert notice.key == "agents.done.replied"
    assert replied.state == "in_progress" and replied.first_response_at is not None
    (row,) = await rows_of(db, ticket, 501)
    assert row.link_kind == "to_customer" and row.ticket_id == ticket.id
    assert text_of(row).startswith(f"💬 <b>{ticket.number}</b> · Support:")
    assert "Try &lt;b&gt;turning&lt;/b&gt; it off &amp; on" in text_of(row)
    reply = next(e for e in await events_of(db, ticket) if e.kind == "reply")
    assert reply.actor_id == AGENT.user_id and reply.note == "Try <b>turning</b> it off & on"


async def test_an_agents_formatting_reaches_the_customer_and_a_long_one_is_queued_whole(db: Database) -> None:
    ann = await customer(db)
    ticket = await ticket_for(db, ann)
    formatted = Content(
        text="Press Restart & wait", html='Press <b>Restart</b> &amp; <a href="https://x.example">wait</a>'
    )
    await act(db, ticket, agent_actions.reply, AGENT, formatted)
    (row,) = await rows_of(db, ticket, 501)
    assert 'Press <b>Restart</b> &amp; <a href="https://x.example">wait</a>' in text_of(row)
    reply = next(e for e in await events_of(db, ticket) if e.kind == "reply")
    assert reply.note == "Press Restart & wait"  # the record keeps the words
    long_text = "word " * 800
    await act(db, ticket, agent_actions.reply, AGENT, Content(text=long_text, html="<b>" + long_text + "</b>"))
    latest = (await rows_of(db, ticket, 501))[-1]
    assert ("<b>" + long_text + "</b>") in text_of(latest)  # whole: delivery splits it if it must
    photo = {"kind": "photo", "file_id": "F1", "chat_id": STAFF, "message_id": 78, "caption": "see here"}
    await act(
        db,
        ticket,
        agent_actions.reply,
        AGENT,
        Content(file=photo, chat_id=STAFF, message_id=78, html="<i>see</i> here"),
    )
    copied = (await rows_of(db, ticket, 501))[-1]
    assert copied.method == "copyMessage" and "<i>see</i> here" in copied.payload["caption"]


async def test_reply_with_a_file_copies_it_and_keeps_the_attachment(db: Database) -> None:
    ann = await customer(db)
    ticket = await ticket_for(db, ann)
    photo = {"kind": "photo", "file_id": "F1", "chat_id": STAFF, "message_id": 77, "caption": "like this"}
    await act(db, ticket, agent_actions.reply, AGENT, Content(file=photo, chat_id=STAFF, message_id=77))
    (row,) = await rows_of(db, ticket, 501)
    assert row.method == "copyMessage" and row.payload["from_chat_id"] == STAFF and row.payload["message_id"] == 77
    assert ticket.number in row.payload["caption"] and "like this" in row.payload["caption"]
    async with db.read() as session:
        files = (await session.exec(select(Attachment).where(Attachment.ticket_id == ticket.id))).all()
    assert [f.file_id for f in files] == ["F1"] and files[0].event_id is not None


async def test_no_reply_to_a_closed_ticket_and_no_empty_reply(db: Database) -> None:
    ann = await customer(db)
    ticket = await ticket_for(db, ann)
    with pytest.raises(Refusal) as empty:
        await act(db, ticket, agent_actions.reply, AGENT, Content(text="  "))
    assert empty.value.key == "agents.error.empty_reply"
    await act(db, ticket, agent_actions.change_state, AGENT, State.CANCELLED)
    with pytest.raises(Refusal) as closed:
        await act(db, ticket, agent_actions.reply, AGENT, Content(text="hello"))
    assert closed.value.key == "agents.error.not_open"
    assert "/reopen" in closed.value.text("en")


async def test_ask_waits_for_customer_and_their_answer_resumes_the_ticket(db: Database) -> None:
    ann = await customer(db)
    ticket = await ticket_for(db, ann)
    before = await fresh(db, ticket)
    notice, asked = await act(db, ticket, agent_actions.ask, AGENT, Content(text="Which model?"))
    assert notice.key == "agents.done.asked"
    assert asked.state == "waiting_customer" and asked.sla_paused_at is not None and asked.reminder_due_at
    (question,) = await rows_of(db, ticket, 501)
    assert "Which model?" in text_of(question)
    assert question.payload["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == f"an:{ticket.id}"

    # the customer's next free message is the answer: it is their only ticket waiting on them
    async with db.session() as session:
        me = await repos.customer_by_telegram_id(session, 501)
        routed = await customer_messages.route(
            session, me, Content(text="HP 400, error 13", chat_id=501, message_id=9), POLICY
        )
    assert routed.handled and "added to" in routed.answers[0].text
    answered = await fresh(db, ticket)
    assert answered.state == "in_progress" and answered.sla_paused_at is None and answered.reminder_due_at is None
    assert answered.resolution_due >= before.resolution_due  # the pause was given back
    kinds = [e.kind for e in await events_of(db, ticket)]
    assert kinds[-2:] == ["answer", "state"]
    relay = (await rows_of(db, ticket, STAFF))[-2]
    assert relay.reply_to_card and relay.link_kind == "relay" and "HP 400, error 13" in text_of(relay)
    async with db.read() as session:
        link = await repos.link_of(session, 501, 9)
    assert link is not None and link.kind == "customer_msg" and link.ticket_id == ticket.id


async def test_invalid_transitions_give_clear_reasons(db: Database) -> None:
    ann = await customer(db)
    ticket = await ticket_for(db, ann)
    cases = [
        (State.CLOSED, "agents.transition.close_unresolved", "Only a resolved ticket can be closed"),
        (State.NEW, "agents.transition.same", "already New"),
        (State.RESOLVED, "agents.transition.needs_report", "/resolve"),
    ]
    for target, key, words in cases:
        with pytest.raises(Refusal) as refused:
            await act(db, ticket, agent_actions.change_state, AGENT, target)
        assert refused.value.key == key and words in refused.value.text("en")
        assert refused.value.text("ru") != refused.value.text("en")
    await act(db, ticket, agent_actions.take, AGENT)
    with pytest.raises(Refusal) as back:
        await act(db, ticket, agent_actions.change_state, AGENT, State.NEW)
    assert back.value.key == "agents.transition.not_allowed"
    allowed = "Waiting on customer (waiting_customer), Resolved (resolved), Cancelled (cancelled)"
    assert f"In progress → New is not allowed. From In progress it can go to: {allowed}" in back.value.text("en")
    with pytest.raises(Refusal) as short:
        await act(db, ticket, agent_actions.resolve, AGENT, "done")
    assert short.value.key == "agents.error.report_needed"
    with pytest.raises(Refusal) as reopen:
        await act(db, ticket, agent_actions.reopen, AGENT)
    assert reopen.value.key == "agents.error.already_open"
    assert (await fresh(db, ticket)).state == "in_progress"


async def test_state_change_is_an_event_and_the_customer_is_told_in_their_language(db: Database) -> None:
    olga = await customer(db, 601, "Ольга", "ru")
    ticket = await ticket_for(db, olga)
    notice, changed = await act(db, ticket, agent_actions.change_state, AGENT, State.WAITING_CUSTOMER)
    assert notice.values == {"number": ticket.number, "from_state": "new", "to_state": "waiting_customer"}
    assert changed.sla_paused_at is not None
    state = [e for e in await events_of(db, ticket) if e.kind == "state"][-1]
    assert (state.from_state, state.to_state, state.actor_id) == ("new", "waiting_customer", AGENT.user_id)
    assert "новый статус" in text_of((await rows_of(db, ticket, 601))[-1])


async def test_close_and_reopen_commands(db: Database) -> None:
    ann = await customer(db)
    ticket = await ticket_for(db, ann)
    await act(db, ticket, agent_actions.resolve, AGENT, "technical Cable replaced, works again.")
    notice, closed = await act(db, ticket, agent_actions.close, AGENT)
    assert notice.key == "agents.done.closed" and closed.state == "closed"
    async with db.session() as session:
        reopened = await repos.lock_ticket(session, ticket.id)
        notice = await agent_actions.reopen(session, reopened, AGENT, POLICY, "customer called back")
    assert notice.key == "agents.done.reopened" and reopened.state == "in_progress" and reopened.closed_at is None
    assert "reopened" in text_of((await rows_of(db, ticket, 501))[-1])


async def test_retype_keeps_the_number_recomputes_sla_and_records_a_label(db: Database) -> None:
    ann = await customer(db)
    ticket = await ticket_for(db, ann, Category.HARDWARE, "My account is hacked, strange logins")
    before = await fresh(db, ticket)
    notice, retyped = await act(db, ticket, agent_actions.retype, AGENT, Category.SECURITY)
    assert notice.key == "agents.done.retyped"
    assert retyped.number == before.number and retyped.category == "security" and retyped.ticket_type == "incident"
    assert retyped.priority == "P2"  # a security incident is never below P2
    assert retyped.resolution_due < before.resolution_due
    _, to_request = await act(db, ticket, agent_actions.retype, AGENT, Category.ACCESS)
    assert to_request.ticket_type == "service_request" and to_request.number == before.number
    assert [e.kind for e in await events_of(db, ticket)][-2:] == ["retype", "retype"]
    async with db.read() as session:
        labels = (await session.exec(select(LabelledExample).order_by(col(LabelledExample.id)))).all()
    assert [(x.ticket_type, x.category, x.priority) for x in labels] == [
        ("incident", "security", "P2"),
        ("service_request", "access", "P2"),
    ]
    assert labels[0].text == "My account is hacked, strange logins" and labels[0].actor_id == AGENT.user_id
    same, _ = await act(db, ticket, agent_actions.retype, AGENT, Category.ACCESS)
    assert same.key == "agents.done.retype_same"


async def test_priority_recomputes_sla_and_export_labels_prints_jsonl(db: Database, database_url, capsys) -> None:
    ann = await customer(db)
    ticket = await ticket_for(db, ann)
    before = await fresh(db, ticket)
    _, raised = await act(db, ticket, agent_actions.set_priority, AGENT, Priority.P1)
    assert raised.priority == "P1" and raised.first_response_due < before.first_response_due
    assert [e.kind for e in await events_of(db, ticket)][-1] == "priority"
    await act(db, ticket, agent_actions.retype, AGENT, Category.SOFTWARE)
    assert await export_labels(Settings(_env_file=None, database_url=database_url), "-") == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert lines == [
        {"text": "The printer <jams> & prints nothing", "type": "incident", "category": "software", "priority": "P1"}
    ]

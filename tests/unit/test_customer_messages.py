"""The customer's side of a ticket (helpdesk.customer_messages), on a real database: which ticket a
message is for, the chooser, the Reply and fixed buttons, edits."""

from __future__ import annotations

from datetime import timedelta

from helpdesk import agent_actions, customer_messages
from helpdesk.clock import now_utc
from helpdesk.content import Content
from helpdesk.vocabulary import State
from storage import repos
from storage.db import Database
from tests.unit.desk import AGENT, POLICY, STAFF, act, customer, events_of, fresh, rows_of, text_of, ticket_for


async def test_free_message_with_several_open_tickets_asks_which_one(db: Database) -> None:
    ann = await customer(db)
    first = await ticket_for(db, ann, text="Printer one is broken")
    second = await ticket_for(db, ann, text="Monitor two is flickering")
    async with db.session() as session:
        me = await repos.customer_by_telegram_id(session, 501)
        routed = await customer_messages.route(
            session, me, Content(text="It started yesterday", chat_id=501, message_id=5), POLICY
        )
    assert routed.handled
    (chooser,) = routed.answers
    data = [row[0][1] for row in chooser.buttons]
    assert data == [f"ft:{second.id}", f"ft:{first.id}", "ft:new"]
    async with db.session() as session:
        me = await repos.customer_by_telegram_id(session, 501)
        assert me.pending["choose"]["text"] == "It started yesterday"
        result = await customer_messages.choose(session, me, str(first.id), POLICY)
    assert result.kind == "attached"
    assert [e.kind for e in await events_of(db, first)][-1] == "message"
    assert [e.kind for e in await events_of(db, second)] == ["created"]
    async with db.session() as session:
        me = await repos.customer_by_telegram_id(session, 501)
        assert me.pending == {
            "conversation": {"ticket": first.id, "at": me.pending["conversation"]["at"]},
            "added": {"message": 5, "content": me.pending["added"]["content"]},  # for its "New request" button
        }
        assert me.pending["added"]["content"]["text"] == "It started yesterday"
        assert (await customer_messages.choose(session, me, str(first.id), POLICY)).kind == "outdated"

    # the conversation goes on: the next message goes to the same ticket without asking
    async with db.session() as session:
        me = await repos.customer_by_telegram_id(session, 501)
        routed = await customer_messages.route(
            session, me, Content(text="It beeps too", chat_id=501, message_id=6), POLICY
        )
    assert routed.handled and first.number in routed.answers[0].text
    assert routed.answers[0].buttons == [[("📝 New request", "m:new:6")]]  # not the chooser: "or a new one?" (this)
    assert [e.note for e in await events_of(db, first)][-1] == "It beeps too"

    # quiet for longer than CONVERSATION_QUIET: asked again; "New request" hands the message to the intake
    async with db.session() as session:
        me = await repos.customer_by_telegram_id(session, 501)
        quiet = now_utc() - customer_messages.CONVERSATION_QUIET - timedelta(minutes=1)
        me.pending = {"conversation": {"ticket": first.id, "at": quiet.isoformat()}}
        await customer_messages.route(session, me, Content(text="Also the scanner", chat_id=501, message_id=7), POLICY)
        assert "choose" in me.pending
    async with db.session() as session:
        me = await repos.customer_by_telegram_id(session, 501)
        result = await customer_messages.choose(session, me, "new", POLICY)
    assert result.kind == "new" and result.content.text == "Also the scanner"
    assert "conversation" not in me.pending


async def test_no_open_tickets_leaves_the_message_to_the_intake(db: Database) -> None:
    await customer(db)
    async with db.session() as session:
        me = await repos.customer_by_telegram_id(session, 501)
        routed = await customer_messages.route(session, me, Content(text="Hello", chat_id=501, message_id=3), POLICY)
    assert not routed.handled and not routed.answers


async def test_reply_to_a_linked_message_and_the_reply_button(db: Database) -> None:
    ann = await customer(db)
    first = await ticket_for(db, ann, text="Printer one is broken")
    second = await ticket_for(db, ann, text="Monitor two is flickering")
    async with db.session() as session:
        await repos.add_link(session, 501, 40, first.id, "to_customer")
        me = await repos.customer_by_telegram_id(session, 501)
        routed = await customer_messages.route(
            session, me, Content(text="about the printer", chat_id=501, message_id=41), POLICY, reply_to=40
        )
    assert routed.handled and first.number in routed.answers[0].text
    async with db.session() as session:
        me = await repos.customer_by_telegram_id(session, 501)
        prompt = await customer_messages.start_answer(session, me, second.id, POLICY)
        assert prompt is not None and prompt.ticket_id == second.id and prompt.reply_markup == {"force_reply": True}
    async with db.session() as session:
        me = await repos.customer_by_telegram_id(session, 501)
        routed = await customer_messages.route(
            session, me, Content(text="about the monitor", chat_id=501, message_id=42), POLICY
        )
    assert routed.handled and second.number in routed.answers[0].text
    assert [e.note for e in await events_of(db, second)][-1] == "about the monitor"

    # a reply to a message of a closed ticket: told so, and the intake takes the message
    await act(db, first, agent_actions.change_state, AGENT, State.CANCELLED)
    async with db.session() as session:
        me = await repos.customer_by_telegram_id(session, 501)
        routed = await customer_messages.route(
            session, me, Content(text="printer again", chat_id=501, message_id=43), POLICY, reply_to=40
        )
    assert not routed.handled and "already closed" in routed.answers[0].text


async def test_a_reply_uses_up_a_pending_answer_outside_the_form_and_in_it(db: Database) -> None:
    """A Telegram reply says which ticket it is for: the Reply button's pending answer (here for another
    ticket) is used up by it, by `route` and by `route_reply_during_intake` alike."""
    ann = await customer(db)
    first = await ticket_for(db, ann, text="Printer one is broken")
    second = await ticket_for(db, ann, text="Monitor two is flickering")
    async with db.session() as session:
        await repos.add_link(session, 501, 40, first.id, "to_customer")
    for n, routing in enumerate((customer_messages.route, customer_messages.route_reply_during_intake)):
        async with db.session() as session:
            me = await repos.customer_by_telegram_id(session, 501)
            assert await customer_messages.start_answer(session, me, second.id, POLICY) is not None
        async with db.session() as session:
            me = await repos.customer_by_telegram_id(session, 501)
            text = f"about the printer {n}"
            routed = await routing(session, me, Content(text=text, chat_id=501, message_id=50 + n), POLICY, reply_to=40)
        assert routed.handled and first.number in routed.answers[0].text
        assert [e.note for e in await events_of(db, first)][-1] == text
        async with db.session() as session:
            me = await repos.customer_by_telegram_id(session, 501)
            assert "answer" not in me.pending
    assert "conversation" not in me.pending  # in the form no conversation follows: next messages are the form's
    assert [e.kind for e in await events_of(db, second)] == ["created"]


async def test_in_the_form_only_a_reply_to_an_open_tickets_message_goes_to_the_ticket(db: Database) -> None:
    ann = await customer(db)
    ticket = await ticket_for(db, ann, text="Printer one is broken")
    async with db.session() as session:
        await repos.add_link(session, 501, 40, ticket.id, "to_customer")
        me = await repos.customer_by_telegram_id(session, 501)
        plain = Content(text="Room 12", chat_id=501, message_id=60)
        assert not (
            await customer_messages.route_reply_during_intake(session, me, plain, POLICY, reply_to=None)
        ).handled
        assert not (await customer_messages.route_reply_during_intake(session, me, plain, POLICY, reply_to=39)).handled
    await act(db, ticket, agent_actions.change_state, AGENT, State.CANCELLED)
    async with db.session() as session:
        me = await repos.customer_by_telegram_id(session, 501)
        me.pending = {"answer": ticket.id, "at": now_utc().isoformat()}
        reply = Content(text="printer again", chat_id=501, message_id=61)
        routed = await customer_messages.route_reply_during_intake(session, me, reply, POLICY, reply_to=40)
        # a closed ticket's: the form's, with no note and nothing changed (unlike `route`, which says it is closed)
        assert not routed.handled and routed.answers == []
        assert me.pending["answer"] == ticket.id
    assert "printer again" not in [e.note for e in await events_of(db, ticket)]


async def test_another_customers_links_and_buttons_do_not_reach_a_ticket(db: Database) -> None:
    ann = await customer(db)
    bob = await customer(db, 502, "Bob")
    ticket = await ticket_for(db, ann)
    await act(db, ticket, agent_actions.resolve, AGENT, "technical: Replaced the fuser unit and tested.")
    async with db.session() as session:
        await repos.add_link(session, 501, 40, ticket.id, "to_customer")
        me = await repos.customer_by_telegram_id(session, 502)
        # Bob cannot have Ann's message id in his chat; even a forged lookup finds nothing of his
        assert await customer_messages.linked_ticket(session, me, 501, 40) is None
        assert await customer_messages.confirm_fix(session, me, ticket.id, True, POLICY) is None
        assert await customer_messages.start_answer(session, me, ticket.id, POLICY) is None
        routed = await customer_messages.route(session, me, Content(text="hi", chat_id=502, message_id=1), POLICY)
    assert not routed.handled
    assert (await fresh(db, ticket)).state == "resolved"
    assert bob.id != ann.id


async def test_resolve_confirm_closes(db: Database) -> None:
    ann = await customer(db)
    ticket = await ticket_for(db, ann)
    notice, resolved = await act(db, ticket, agent_actions.resolve, AGENT, "technical The fuser was worn; replaced it.")
    assert notice.key == "agents.done.resolved"
    assert resolved.state == "resolved" and resolved.resolution_report == "The fuser was worn; replaced it."
    assert resolved.cause == "technical"
    assert resolved.resolved_at and resolved.auto_close_due_at and resolved.first_response_at
    message = (await rows_of(db, ticket, 501))[-1]
    buttons = [b["callback_data"] for b in message.payload["reply_markup"]["inline_keyboard"][0]]
    assert buttons == [f"fx:{ticket.id}:y", f"fx:{ticket.id}:n"]
    assert "The fuser was worn" in text_of(message)
    async with db.session() as session:
        me = await repos.customer_by_telegram_id(session, 501)
        answer = await customer_messages.confirm_fix(session, me, ticket.id, True, POLICY)
    assert answer is not None and "closed" in answer.text
    closed = await fresh(db, ticket)
    assert closed.state == "closed" and closed.closed_at and closed.auto_close_due_at is None
    assert closed.survey_due_at is not None
    state = [e for e in await events_of(db, ticket) if e.kind == "state"][-1]
    assert (state.actor_kind, state.to_state) == ("customer", "closed")
    async with db.session() as session:  # the button again: outdated
        me = await repos.customer_by_telegram_id(session, 501)
        assert await customer_messages.confirm_fix(session, me, ticket.id, True, POLICY) is None


async def test_still_a_problem_reopens_and_tells_the_staff(db: Database) -> None:
    ann = await customer(db)
    ticket = await ticket_for(db, ann)
    await act(db, ticket, agent_actions.resolve, AGENT, "configuration Restarted the print spooler.")
    async with db.session() as session:
        me = await repos.customer_by_telegram_id(session, 501)
        answer = await customer_messages.confirm_fix(session, me, ticket.id, False, POLICY)
    assert answer is not None and "back in progress" in answer.text
    reopened = await fresh(db, ticket)
    assert reopened.state == "in_progress" and reopened.resolved_at is None and reopened.auto_close_due_at is None
    (note,) = [r for r in await rows_of(db, ticket, STAFF) if "still a problem" in text_of(r)]
    assert note.reply_to_card and note.link_kind == "relay" and "Ann" in text_of(note)
    async with db.read() as session:
        me = await repos.customer_by_telegram_id(session, 501)
    assert me.pending["answer"] == ticket.id


async def test_edits_of_linked_messages_are_relayed_others_get_a_note(db: Database) -> None:
    ann = await customer(db)
    ticket = await ticket_for(db, ann)
    async with db.session() as session:
        await repos.add_link(session, 501, 12, ticket.id, "customer_msg")
        me = await repos.customer_by_telegram_id(session, 501)
        relayed = await customer_messages.relay_edit(session, me, 501, 12, "room 206, not 204", POLICY)
        ignored = await customer_messages.relay_edit(session, me, 501, 13, "something", POLICY)
    assert "passed on" in relayed.text and "can't pick up edits" in ignored.text
    note = (await rows_of(db, ticket, STAFF))[-1]
    assert "✏️" in text_of(note) and "edited: room 206, not 204" in text_of(note) and note.reply_to_card

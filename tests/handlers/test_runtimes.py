"""What each runtime adds on the way to the handler layer: nothing that changes an answer, nothing lost."""

from __future__ import annotations

import shutil
from typing import Any

import pytest
from telegram.ext import TypeHandler

from bot.bindings.ptb import PtbRuntime
from helpdesk.clock import now_utc
from storage.db import Database
from storage.models import InboxUpdate
from tests.handlers.harness import STAFF, Desk, LocalRequest
from tests.handlers.test_customers import register
from tests.support.databases import sqlite_url


async def test_a_failing_handler_is_retried_then_parked_with_an_apology(desk: Desk, monkeypatch) -> None:
    """Neither framework may swallow a handler's exception: the inbox must see it to retry and park."""
    calls = 0

    async def broken(*_args: Any, **_kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        raise RuntimeError("the database went away")

    monkeypatch.setattr("bot.handlers.customer.tickets.customer_tickets", broken)
    desk.parking_expected = True
    ann = desk.person(501, "Ann")
    await ann.send("/start")
    assert calls == 3 and desk.inbox.stats.parked == 1  # HANDLER_ATTEMPTS, then parked
    assert "Sorry" in ann.last.text and "parked" not in ann.last.text
    assert "Ann" in desk.staff.last.text  # the staff are told
    assert "A message from Ann could not be processed" in desk.staff.last.text


async def test_the_staff_are_told_what_failed_a_press_or_a_group_message(desk: Desk, monkeypatch) -> None:
    """The staff's alert says whether a message or a button press failed, and where: a customer's press in
    private (told it was received), an agent's command or press in the staff chat (nobody was told)."""

    async def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("the database went away")

    ann, agent = desk.person(501, "Ann"), desk.agent()
    number = await register(ann, "The printer on floor 2 is jammed and prints nothing at all")
    await ann.send("/start")
    welcome = ann.last
    for target in ("customer.tickets.customer_tickets", "agents.agent_views.queue", "agents.agent_views.details"):
        monkeypatch.setattr(f"bot.handlers.{target}", broken)
    desk.parking_expected = True

    answer = await ann.press(welcome, "📋 My tickets")  # was never answered: the button spun on
    assert "Sorry" in answer["text"] and "try again" in answer["text"] and not answer["show_alert"]
    alert = desk.staff.last.text
    assert "A button press by Ann could not be processed" in alert and number in alert
    assert "The customer was told" in alert and "Sorry" in ann.last.text
    await agent.send_in(STAFF, "/queue")
    alert = desk.staff.last.text
    assert "A message from Agent1 in a group chat could not be processed" in alert
    assert "customer" not in alert and number not in alert
    answer = await agent.press(desk.card(number), "📄 Details")
    assert "Sorry" in answer["text"]
    alert = desk.staff.last.text
    assert "A button press by Agent1 in a group chat could not be processed" in alert and "customer" not in alert
    assert desk.inbox.stats.parked == 3


async def test_a_parked_press_is_answered_in_the_pressers_language_on_every_way_to_parking(
    desk: Desk, monkeypatch
) -> None:
    """Parked after its last attempt, parked when found over its attempts after a restart, parked because it
    cannot be read: each press still gets its note (in Russian for a Russian customer), never a spinner."""

    async def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("the database went away")

    olga = desk.person(502, "Ольга", lang="ru")
    await olga.send("/start")
    welcome = olga.last
    monkeypatch.setattr("bot.handlers.customer.tickets.customer_tickets", broken)
    desk.parking_expected = True
    answer = await olga.press_data(welcome, "m:my")
    assert answer["text"].startswith("Извините, сейчас не получилось обработать нажатие")
    monkeypatch.undo()

    # found over its attempts (a crash between the last attempt and its park): parked before any handler
    press = {"id": "q-crashed", "from": dict(olga.data), "chat_instance": "1", "data": "m:my"}
    async with desk.db.session() as session:
        session.add(InboxUpdate(update_id=900, chat_key=olga.id, payload={"update_id": 900, "callback_query": press},
                                status="pending", attempts=3, received_at=now_utc()))  # fmt: skip
    await desk.inbox.recover()
    await desk.settle()
    assert desk.telegram.button_answers["q-crashed"]["text"].startswith("Извините")

    # a press no handler can read (its message's chat id is no number): parked at once, answered all the same
    garbled = {"message_id": 1, "date": 1, "chat": {"id": "x1", "type": "private"}}
    body = {"id": "q-garbled", "from": dict(olga.data), "chat_instance": "1", "data": "m:my", "message": garbled}
    await desk.inbox.store([{"update_id": 901, "callback_query": body}])
    await desk.settle()
    assert desk.telegram.button_answers.get("q-garbled", {}).get("text", "").startswith("Извините")


async def test_ptb_handlers_added_by_a_developer_see_the_desks_updates(migrated_sqlite, tmp_path, triage) -> None:
    """Under ptb the update goes through its Application: a handler in another group sees it too."""
    path = tmp_path / "desk.db"
    shutil.copyfile(migrated_sqlite, path)
    db = Database(sqlite_url(path))
    runtime = PtbRuntime(
        "123456:HANDLERS-token-abcdefghijklmnopqrstuvwxyz", "http://127.0.0.1:9", request=LocalRequest()
    )
    await runtime.start()
    seen: list[int] = []

    async def audit(update: Any, _context: Any) -> None:
        seen.append(update.update_id)

    runtime.application.add_handler(TypeHandler(object, audit), group=-1)
    try:
        desk = Desk(db, runtime.deliver_to, None, triage)
        ann = desk.person(501, "Ann")
        await ann.send("/start")
        await ann.press(ann.last, "📝 New request")
        assert seen == [1, 2] and "What happened" in ann.last.text
    finally:
        await runtime.close()
        await db.dispose()


@pytest.mark.postgres
async def test_an_agent_conversation_on_postgresql(pg_desk: Desk) -> None:
    """Row locks and the batch's advisory locks, per runtime."""
    agent, ann = pg_desk.agent(), pg_desk.person(501, "Ann")
    number = await register(ann, "The VPN drops every ten minutes since this morning")
    await agent.press(pg_desk.card(number), "🙋 Take")
    await agent.send(f"/reply {number} Please reinstall the VPN client")
    assert "reinstall the VPN client" in ann.last.text
    await agent.send(f"/resolve {number} technical Reinstalled the client; the tunnel has been stable for an hour.")
    await ann.press(ann.chat.find("is resolved"), "👍 Yes, it's fixed")
    assert "is closed" in ann.last.text

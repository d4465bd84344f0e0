"""Poison updates: one update that cannot be stored or read is parked on its own, with its reason, and
every other update flows on, on SQLite and PostgreSQL, in polling mode (also after a restart) and in
webhook mode. Ids are checked at the edge (the update model); alerts go to the staff only when a person
waits for an answer."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import select

from bot.inbox import UpdateInbox
from bot.polling import Poller
from bot.webhook import SECRET_HEADER, WebhookReceiver
from helpdesk.policy import DeskPolicy
from storage import migrate
from storage.db import Database
from storage.models import InboxUpdate, OutboxMessage
from tests.unit.test_inbox import Answers, Recorder, message
from tests.unit.test_inbox_polling import api, bot, run_poller  # noqa: F401 - fixtures

STAFF = -100123
POLICY = DeskPolicy(agent_ids=frozenset({7001}), staff_chat_id=STAFF)
BEYOND = 2**63 + 5  # no database integer holds it; no Telegram id is anywhere near it


def forged(update_id: int, text: str = "poison") -> dict[str, Any]:
    """A private message whose chat and sender ids do not fit a 64-bit integer."""
    return {
        "update_id": update_id,
        "message": {
            "message_id": 1,
            "date": 1_700_000_000,
            "chat": {"id": BEYOND, "type": "private", "first_name": "X"},
            "from": {"id": BEYOND, "is_bot": False, "first_name": "X"},
            "text": text,
        },
    }


def unstorable(update_id: int) -> dict[str, Any]:
    """A payload the database refuses whatever its ids (its JSON cannot be written): any content-dependent
    store failure looks like this to the inbox."""
    payload = message(4242, "refused")
    payload["update_id"] = update_id
    payload["message"]["odd"] = {1, 2}  # no JSON for a set
    return payload


async def rows(db: Database) -> dict[int, InboxUpdate]:
    async with db.read() as s:
        return {r.update_id: r for r in (await s.exec(select(InboxUpdate))).all()}


async def staff_messages(db: Database) -> list[str]:
    async with db.read() as s:
        found = (await s.exec(select(OutboxMessage).where(OutboxMessage.chat_id == STAFF))).all()
    return [r.payload.get("text", "") for r in found]


async def test_ids_beyond_the_database_integer_are_parked_alone_with_their_reason(db: Database) -> None:
    rec = Recorder()
    inbox = UpdateInbox(db, rec, Answers(), POLICY, None, retry_delays=(0.01,))
    before, after = message(31, "before"), message(32, "after")
    assert await inbox.store([before, forged(900_001), after]) == [
        before["update_id"],
        900_001,
        after["update_id"],
    ]
    assert await inbox.idle(10)
    assert sorted(t for _, t in rec.calls) == ["after", "before"]
    stored = await rows(db)
    assert stored[900_001].status == "parked"
    assert "is not a 64-bit integer" in (stored[900_001].last_error or "")
    assert stored[before["update_id"]].status == stored[after["update_id"]].status == "done"
    assert await staff_messages(db) == []  # no person waits: nothing for the staff to do
    assert inbox.stats.parked == 1


async def test_an_update_the_database_refuses_is_parked_alone_and_the_batch_goes_on(db: Database) -> None:
    rec = Recorder()
    inbox = UpdateInbox(db, rec, Answers(), POLICY, None, retry_delays=(0.01,))
    first, last = message(41, "first"), message(42, "last")
    new = await inbox.store([first, unstorable(900_002), last])
    assert new == [first["update_id"], last["update_id"]]  # stored; the refused one is parked, not stored
    assert await inbox.idle(10)
    assert sorted(t for _, t in rec.calls) == ["first", "last"]
    parked = (await rows(db))[900_002]
    assert parked.status == "parked" and parked.last_error.startswith("not stored: TypeError")
    assert parked.payload == {"update_id": 900_002} and parked.error_id
    assert await inbox.store([unstorable(900_002)]) == []  # sent again: recognised, nothing more
    assert inbox.stats.parked == 1 and await staff_messages(db) == []


class KeptAnswers:
    """Button answers, kept by query id."""

    def __init__(self) -> None:
        self.given: dict[str, str | None] = {}

    async def answer_button(self, query_id: str, text: str | None, alert: bool) -> None:
        self.given[query_id] = text


async def test_a_press_the_database_refuses_still_stops_its_spinner(db: Database) -> None:
    """Parked unstored, a button press is still answered (in the presser's Telegram language): the
    database is the problem, so nothing is looked up there; a message gets nothing of the kind."""
    answers = KeptAnswers()
    inbox = UpdateInbox(db, Recorder(), answers, POLICY, None, retry_delays=(0.01,))
    press = {
        "update_id": 900_003,
        "callback_query": {
            "id": "q-refused",
            "from": {"id": 4243, "is_bot": False, "first_name": "Оля", "language_code": "ru"},
            "chat_instance": "1",
            "data": "m:my",
            "odd": {1, 2},  # no JSON for a set: the database refuses it
        },
    }
    assert await inbox.store([press, unstorable(900_004)]) == []
    assert (await rows(db))[900_003].status == "parked"
    assert list(answers.given) == ["q-refused"]
    assert (answers.given["q-refused"] or "").startswith("Извините, сейчас не получилось обработать нажатие")


async def test_when_the_database_itself_fails_nothing_is_confirmed(database_url: str) -> None:
    """Not the content: a database without the inbox table refuses the parked record too, so the store
    fails as a whole and Telegram keeps every update."""
    db = Database(database_url)  # never migrated
    try:
        inbox = UpdateInbox(db, Recorder(), Answers(), POLICY, None)
        with pytest.raises(Exception, match="inbox"):
            await inbox.store([message(51, "one"), message(52, "two")])
    finally:
        await db.dispose()


async def test_polling_moves_past_a_poison_update_and_a_restart_does_not_bring_it_back(
    api: Any,  # noqa: F811
    bot: Any,  # noqa: F811
    database_url: str,
) -> None:
    db = Database(database_url)
    await migrate.upgrade(db)
    try:
        rec = Recorder()
        inbox = UpdateInbox(db, rec, Answers(), POLICY, None, retry_delays=(0.01,))
        ann = api.user(61, "Ann")
        poison = api.enqueue("message", forged(0)["message"])
        await ann.send("/start")
        poller = Poller(bot, inbox, timeout=0)
        await run_poller(poller, lambda: bool(rec.calls))
        assert await inbox.idle(10)
        assert rec.calls == [(61, "/start")]
        await run_poller(poller, lambda: api.is_confirmed(api.updates[-1]["update_id"]))
        assert (await rows(db))[poison["update_id"]].status == "parked"

        restarted = UpdateInbox(db, rec, Answers(), POLICY, None, retry_delays=(0.01,))  # a new process
        assert await restarted.recover() == 0
        await ann.send("after the restart")
        await run_poller(Poller(bot, restarted, timeout=0), lambda: len(rec.calls) == 2)
        assert await restarted.idle(10)
        assert rec.calls[-1] == (61, "after the restart") and restarted.stats.parked == 0
    finally:
        await db.dispose()


class FakeRequest:
    """What WebhookReceiver reads of an aiohttp request."""

    def __init__(self, payload: Any, secret: str) -> None:
        self.headers = {SECRET_HEADER: secret}
        self._payload = payload
        self.remote = "127.0.0.1"

    async def json(self) -> Any:
        return self._payload


async def test_webhook_answers_200_for_a_poison_update_and_handles_the_next(db: Database) -> None:
    rec = Recorder()
    inbox = UpdateInbox(db, rec, Answers(), POLICY, None, retry_delays=(0.01,))
    receiver = WebhookReceiver(inbox, "s3cret")
    assert (await receiver.handle(FakeRequest(forged(910_001), "s3cret"))).status == 200
    assert (await receiver.handle(FakeRequest(unstorable(910_002), "s3cret"))).status == 200
    too_big = {**message(71, "x"), "update_id": BEYOND}
    assert (await receiver.handle(FakeRequest(too_big, "s3cret"))).status == 400  # no inbox row can hold it
    assert (await receiver.handle(FakeRequest(message(71, "next"), "s3cret"))).status == 200
    assert await inbox.idle(10)
    assert rec.calls == [(71, "next")]
    stored = await rows(db)
    assert stored[910_001].status == stored[910_002].status == "parked"

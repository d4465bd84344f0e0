"""Polling against the Bot API stand-in: confirm only what is stored; one bad update blocks nothing."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlmodel import select

from bot.bindings.aiogram3 import AiogramRuntime
from bot.inbox import UpdateInbox
from bot.polling import Poller
from helpdesk.policy import DeskPolicy
from storage import migrate
from storage.db import Database
from storage.models import InboxUpdate, OutboxMessage
from tests.support.botapi import FakeBotAPI
from tests.support.botproc import DEFAULT_TOKEN
from tests.unit.test_inbox import Answers, Recorder

STAFF = -100123
BAD_POLL = {"id": "1", "question": "?", "options": [{"text": "a", "voter_count": 0}], "total_voter_count": 0}


class FlakyStore:
    """An inbox whose first `fail` stores raise (the database is down)."""

    def __init__(self, fail: int) -> None:
        self.fail = fail
        self.stored: list[int] = []

    async def store(self, payloads: list[dict[str, Any]]) -> list[int]:
        if self.fail:
            self.fail -= 1
            raise ConnectionError("database unavailable")
        ids = [p["update_id"] for p in payloads]
        self.stored.extend(ids)
        return ids


@pytest.fixture
async def api():
    async with FakeBotAPI(token=DEFAULT_TOKEN) as server:
        yield server


@pytest.fixture
async def bot(api: FakeBotAPI):
    runtime = AiogramRuntime(DEFAULT_TOKEN, api.base_url)
    yield runtime
    await runtime.close()


async def run_poller(poller: Poller, until, timeout: float = 10.0) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(poller.run(stop))
    try:
        deadline = asyncio.get_running_loop().time() + timeout
        while not until():
            assert asyncio.get_running_loop().time() < deadline, "poller did not get there"
            assert not task.done(), task
            await asyncio.sleep(0.02)
    finally:
        stop.set()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_updates_are_confirmed_only_after_they_are_stored(
    api: FakeBotAPI, bot: AiogramRuntime, monkeypatch
) -> None:
    monkeypatch.setattr("bot.polling._backoff", lambda failures: 0.05)
    monkeypatch.setattr("bot.polling._sleep", lambda stop, s: asyncio.sleep(0.05))
    user = api.user(11, "Ann")
    await user.send("one")
    await user.send("two")
    ids = [u["update_id"] for u in api.updates]
    store = FlakyStore(fail=2)
    poller = Poller(bot, store, timeout=0)  # type: ignore[arg-type]
    await run_poller(poller, lambda: store.stored)
    assert store.stored == ids
    # while storing failed the batch was fetched again and never confirmed
    polls = [c for c in api.calls if c.method == "getUpdates"]
    assert len(polls) >= 3 and all("offset" not in c.params for c in polls[:3])
    # the first offset sent (the confirmation) is the one after the stored batch, never earlier
    offsets = [c.params["offset"] for c in polls if "offset" in c.params]
    assert not offsets or set(offsets) == {ids[-1] + 1}
    await user.send("three")
    await run_poller(poller, lambda: len(store.stored) == 3)
    assert api.is_confirmed(ids[0]) and api.is_confirmed(ids[1])


async def test_an_unreadable_update_blocks_nothing(api: FakeBotAPI, bot: AiogramRuntime, database_url: str) -> None:
    """A field newer than a framework (here: a poll without the fields aiogram requires) is read like any
    message; a payload that is no update at all (a message without its id) is parked alone."""
    db = Database(database_url)
    await migrate.upgrade(db)
    try:
        rec = Recorder()
        inbox = UpdateInbox(db, rec, Answers(), DeskPolicy(staff_chat_id=STAFF), None, retry_delays=(0.01,))
        user = api.user(12, "Bo")
        await user.send("before")
        api.enqueue("message", {"from": user.data, "chat": {"id": 12, "type": "private"}, "date": 1, "text": "?"})
        api.post_incoming(user.id, {"poll": BAD_POLL}, sender=user.data)
        await user.send("after")
        ids = [u["update_id"] for u in api.updates]
        poller = Poller(bot, inbox, timeout=0)
        await run_poller(poller, lambda: len(rec.calls) == 3)
        await inbox.idle(10)
        assert [t for _, t in rec.calls] == ["before", "", "after"]
        async with db.read() as s:
            rows = {r.update_id: r for r in (await s.exec(select(InboxUpdate))).all()}
            out = (await s.exec(select(OutboxMessage))).all()
        assert rows[ids[1]].status == "parked" and "unparseable" in (rows[ids[1]].last_error or "")
        assert rows[ids[0]].status == rows[ids[2]].status == rows[ids[3]].status == "done"
        assert sum(1 for o in out if o.chat_id == STAFF) == 1  # the staff are told
        assert sum(1 for o in out if o.chat_id == 12 and "Sorry" in o.payload["text"]) == 1  # never silence
        await run_poller(poller, lambda: api.is_confirmed(ids[3]))
    finally:
        await db.dispose()


async def test_polling_survives_server_errors(api: FakeBotAPI, bot: AiogramRuntime, monkeypatch) -> None:
    monkeypatch.setattr("bot.polling._backoff", lambda failures: 0.01)
    store = FlakyStore(fail=0)
    poller = Poller(bot, store, timeout=0)  # type: ignore[arg-type]
    api.faults.include_polling = True
    api.faults.fail_next(502, "Bad Gateway", method="getUpdates", times=2)
    user = api.user(13, "Cy")
    await user.send("hello")
    await run_poller(poller, lambda: store.stored)
    assert len(store.stored) == 1
    api.faults.reset()


async def test_polling_stops_when_the_token_is_refused(api: FakeBotAPI) -> None:
    bad = AiogramRuntime("123456:WRONG-token-abcdefghijklmnopqrstuvwxyz", api.base_url)
    try:
        stop = asyncio.Event()
        await asyncio.wait_for(Poller(bad, FlakyStore(0), timeout=0).run(stop), 5)  # type: ignore[arg-type]
        assert stop.is_set()
    finally:
        await bad.close()

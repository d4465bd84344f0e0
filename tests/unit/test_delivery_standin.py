"""Outbox delivery through the aiogram runtime (bot/api_transport.py's ApiTransport) to the Bot API stand-in over HTTP.

The stand-in records every call with its arrival time, so Telegram's limits are checked the way Telegram
would see them: flood statistics, duplicates, per-chat order, fault injection (429, 502, lost answers).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlmodel import select

from bot.api_transport import ApiTransport
from bot.bindings.aiogram3 import AiogramRuntime
from helpdesk import outbox
from scheduler.delivery import DeliveryLimits, utf16_len
from storage.db import Database
from storage.models import OutboxMessage
from storage.outbox_rows import bell
from tests.support.botapi import FakeBotAPI
from tests.unit import desk
from tests.unit.desk import STAFF

USERS = range(2001, 2101)  # 100 customers


@pytest.fixture(autouse=True)
def _fresh_bell() -> None:
    bell.reset()


@pytest.fixture
async def api(bot_api: FakeBotAPI) -> FakeBotAPI:
    for user_id in USERS:
        bot_api.user(user_id, f"User{user_id}", started=True)
    bot_api.add_group(STAFF, "Service desk staff")
    return bot_api


@pytest.fixture
async def transports(api: FakeBotAPI) -> AsyncIterator[Transports]:
    made = Transports(api)
    yield made
    await made.close()


class Transports:
    """Transports with real HTTP sessions to the stand-in; one per simulated process."""

    def __init__(self, api: FakeBotAPI) -> None:
        self.api = api
        self.runtimes: list[AiogramRuntime] = []

    def make(self) -> ApiTransport:
        runtime = AiogramRuntime(self.api.token, self.api.base_url, timeout=10)
        self.runtimes.append(runtime)
        return ApiTransport(runtime, request_timeout=10)

    async def close(self) -> None:
        for runtime in self.runtimes:
            await runtime.close()


async def queue(db: Database, chat_id: int, text: str, **kw: Any) -> None:
    async with db.session() as session:
        outbox.send_text(session, chat_id, text, **kw)


def bot_texts(api: FakeBotAPI, chat_id: int) -> list[str]:
    return [m.content for m in api.chat(chat_id).bot_messages]


async def test_300_notifications_through_429s_and_502s(
    api: FakeBotAPI, transports: Transports, database_url: str
) -> None:
    """Every 20th send answered 429 (retry after 1 s), every 7th 502: all 300 arrive exactly once, in order.
    Each 429 pauses every send for its second (Telegram does not say which limit it is about).
    On PostgreSQL two processes share the work, each configured with Telegram's 30 a second, which they
    hold together (the deployment's rate, shared through the database). The stand-in enforces Telegram's
    limits (30 a second overall, one a second per private chat after a short burst): it refused
    nothing but the faults injected here (the bot_api fixture fails the test otherwise)."""
    db = await desk.migrated(database_url)
    others: list[Database] = []
    try:
        expected = {user: [f"Notice {n} for {user}" for n in range(3)] for user in USERS}
        for n in range(3):
            for user in USERS:
                await queue(db, user, expected[user][n])
        api.faults.every_nth_429, api.faults.retry_after, api.faults.every_nth_5xx = 20, 1, 7
        databases = [db]
        if not db.is_sqlite:
            others.append(Database(database_url))
            databases += others
        limits = DeliveryLimits(per_second=30, private_interval=1.0, poll_every=0.1)
        workers = [desk.delivery(each, transports.make(), limits) for each in databases]
        await asyncio.wait_for(asyncio.gather(*(w.drain(timeout=90, until_empty=True) for w in workers)), timeout=100)
        assert {user: bot_texts(api, user) for user in USERS} == expected  # all, once, in order
        report = api.exact_once_report()
        assert report["duplicates"] == []
        assert report["injected"]["429"] > 10 and report["injected"]["5xx"] > 20
        assert api.flood.refusals == []  # Telegram's own limits never refused a send
        assert sum(w.stats.sent for w in workers) == 300
        assert sum(w.stats.retried_429 for w in workers) == report["injected"]["429"]
        assert sum(w.stats.unknown_outcome for w in workers) == 0
        if len(workers) == 2:
            assert all(w.stats.sent for w in workers)
        async with db.read() as session:
            assert set((await session.exec(select(OutboxMessage.status))).all()) == {"sent"}
    finally:
        for other in others:
            await other.dispose()
        await db.dispose()


@pytest.mark.postgres
async def test_two_processes_hold_telegrams_rate_together(
    api: FakeBotAPI, transports: Transports, postgres_database_url: str
) -> None:
    """Two delivery processes, each configured with Telegram's 30 a second and each with more chats to
    serve than that: together they stay within the 30 (each process alone would send 30, and the
    stand-in would refuse the excess). Counted by the stand-in's refusals, not timed."""
    db = await desk.migrated(postgres_database_url)
    other = Database(postgres_database_url)
    try:
        chats = [5001 + n for n in range(240)]
        for chat in chats:
            api.user(chat, f"Reader{chat}", started=True)
            await queue(db, chat, f"Service window tonight, {chat}")
        # a small claim, so that both processes hold work from the start
        limits = DeliveryLimits(per_second=30, private_interval=1.0, poll_every=0.1, claim_batch=60)
        workers = [desk.delivery(each, transports.make(), limits) for each in (db, other)]
        await asyncio.wait_for(asyncio.gather(*(w.drain(timeout=90, until_empty=True) for w in workers)), timeout=100)
        assert all(w.stats.sent for w in workers)  # both sent
        assert sum(w.stats.sent for w in workers) == len(chats)
        assert api.flood.refusals == []
        assert all(bot_texts(api, chat) == [f"Service window tonight, {chat}"] for chat in chats)
    finally:
        await other.dispose()
        await db.dispose()


@pytest.mark.refusals("sendMessage 403 Forbidden: bot was blocked by the user")
async def test_blocked_customer(api: FakeBotAPI, transports: Transports, sqlite_database_url: str) -> None:
    db = await desk.migrated(sqlite_database_url)
    try:
        tid = await desk.new_ticket(db, desk.POLICY, 2001)
        delivery = desk.delivery(db, transports.make(), DeliveryLimits(poll_every=0.1))
        await delivery.drain(until_empty=True)
        card = api.chat(STAFF).bot_messages[0]
        api.block(2001)
        await queue(db, 2001, "Our answer", ticket_id=tid)
        await queue(db, 2001, "Another message", ticket_id=tid)
        await delivery.drain(until_empty=True)
        assert len([c for c in api.calls_to(2001) if c.method == "sendMessage"]) == 1  # one 403, then silence
        assert (await desk.customer_of(db, tid)).unreachable_since is not None
        assert "blocked the bot" in card.content  # the staff see it on the card
        await queue(db, 2001, "Later", ticket_id=tid)
        await delivery.drain(until_empty=True)
        assert len([c for c in api.calls_to(2001) if c.method == "sendMessage"]) == 1
    finally:
        await db.dispose()


async def test_long_texts_and_captions_are_split(
    api: FakeBotAPI, transports: Transports, sqlite_database_url: str
) -> None:
    db = await desk.migrated(sqlite_database_url)
    try:
        text = "<b>Closing report</b>\n" + "🙂 The service was restarted & checked. " * 300
        await queue(db, 2001, text)
        async with db.session() as session:
            api.register_file("photo", None)
            outbox.send_file(session, STAFF, "photo", _photo_id(api), caption="<i>Screen</i> " + "details " * 300)
        await desk.delivery(db, transports.make(), DeliveryLimits(poll_every=0.1)).drain(until_empty=True)
        parts = bot_texts(api, 2001)
        assert len(parts) == 3 and all(utf16_len(p) <= 4096 for p in parts)
        assert (
            " ".join(parts).split() == ("Closing report\n" + "🙂 The service was restarted & checked. " * 300).split()
        )
        photo, rest = api.chat(STAFF).bot_messages
        assert photo.kind == "photo" and photo.caption.startswith("Screen details")
        assert rest.text.startswith("details")
        assert api.errors() == []
    finally:
        await db.dispose()


def _photo_id(api: FakeBotAPI) -> str:
    return next(f.file_id for f in api._files.values() if f.kind == "photo")


@pytest.mark.refusals("sendMessage 400 Bad Request: can't parse entities", "HTML refused")
async def test_refused_markup_is_sent_as_plain_text(
    api: FakeBotAPI, transports: Transports, sqlite_database_url: str
) -> None:
    db = await desk.migrated(sqlite_database_url)
    try:
        await queue(db, 2001, "Printer <b>on floor <i>2</b></i> is fixed")  # wrongly nested: Telegram refuses
        delivery = desk.delivery(db, transports.make(), DeliveryLimits(poll_every=0.1))
        await delivery.drain(until_empty=True)
        assert bot_texts(api, 2001) == ["Printer on floor 2 is fixed"]
        assert delivery.stats.plain_fallbacks == 1 and "can't parse entities" in api.errors(2001)[0].description
    finally:
        await db.dispose()


async def test_lost_answers_are_counted(api: FakeBotAPI, transports: Transports, sqlite_database_url: str) -> None:
    """The stand-in performs every 5th send and drops the connection: each such send is resent and counted."""
    db = await desk.migrated(sqlite_database_url)
    try:
        for user in list(USERS)[:20]:
            await queue(db, user, f"Hello {user}")
        api.faults.every_nth_lost = 5
        delivery = desk.delivery(db, transports.make(), DeliveryLimits(poll_every=0.1))
        await delivery.drain(timeout=60, until_empty=True)
        duplicates = api.duplicate_sends()
        assert api.faults.lost == 4 and delivery.stats.unknown_outcome == 4
        assert len(duplicates) == 4  # what could not be known is visible, not hidden
        assert all(bot_texts(api, user)[-1] == f"Hello {user}" for user in list(USERS)[:20])
    finally:
        await db.dispose()

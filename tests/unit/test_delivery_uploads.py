"""Files the bot makes (the chart, the CSV) through the outbox: stored in the handler's transaction,
uploaded as multipart by delivery through either runtime's HTTP client (aiogram's, python-telegram-bot's)
to the stand-in, once, kept for retries and deleted when the row is over."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlmodel import select

from bot.api_transport import ApiTransport
from bot.bindings.aiogram3 import AiogramRuntime
from bot.bindings.ptb import PtbRuntime
from helpdesk import outbox
from scheduler.delivery import DeliveryLimits
from storage.db import Database
from storage.models import OutboxFile, OutboxMessage
from storage.outbox_rows import bell
from tests.support.botapi import FakeBotAPI
from tests.unit import desk
from tests.unit.desk import STAFF

CHART = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40  # any bytes: the stand-in keeps what it gets
LIMITS = DeliveryLimits(poll_every=0.1)


@pytest.fixture(autouse=True)
def _fresh_bell() -> None:
    bell.reset()


@pytest.fixture(params=["aiogram", "ptb"])
async def transport(bot_api: FakeBotAPI, request: pytest.FixtureRequest) -> AsyncIterator[ApiTransport]:
    bot_api.add_group(STAFF, "Service desk staff")
    bot_api.user(2001, "Ann", started=True)
    runtime = (AiogramRuntime if request.param == "aiogram" else PtbRuntime)(bot_api.token, bot_api.base_url)
    await runtime.start()
    yield ApiTransport(runtime, request_timeout=10)
    await runtime.close()


async def upload(db: Database, chat_id: int, kind: str, data: bytes, name: str, caption: str, **kw) -> None:
    async with db.session() as session:
        mime = "image/png" if kind == "photo" else "text/csv"
        await outbox.send_upload(session, chat_id, kind, data, name, mime, caption=caption, **kw)


async def stored(db: Database) -> tuple[list[str], int]:
    async with db.read() as session:
        statuses = list((await session.exec(select(OutboxMessage.status).order_by(OutboxMessage.id))).all())
        files = len((await session.exec(select(OutboxFile.id))).all())
    return statuses, files


async def test_a_photo_and_a_document_are_uploaded_once(
    bot_api: FakeBotAPI, transport: ApiTransport, database_url: str
) -> None:
    db = await desk.migrated(database_url)
    try:
        await upload(db, STAFF, "photo", CHART, "stats.png", "<b>Statistics</b> · 1 &amp; 2", reply_to_message_id=7)
        csv = "number,assignee\r\nINC-000001,Аня\r\n".encode("utf-8-sig")
        await upload(db, 2001, "document", csv, "tickets.csv", "📄 Tickets")
        assert await stored(db) == (["pending", "pending"], 2)  # both, in the transaction that made them
        await desk.delivery(db, transport, LIMITS).drain(until_empty=True)

        photo, document = bot_api.chat(STAFF).bot_messages[-1], bot_api.chat(2001).bot_messages[-1]
        assert photo.kind == "photo" and photo.caption == "Statistics · 1 & 2"
        assert bot_api.file_content(photo.data["photo"][-1]["file_id"]) == CHART
        assert document.data["document"]["file_name"] == "tickets.csv"
        assert document.data["document"]["mime_type"] == "text/csv"
        assert bot_api.file_content(document.data["document"]["file_id"]) == csv
        calls = [c for c in bot_api.calls if c.method in ("sendPhoto", "sendDocument")]
        assert [c.content_type for c in calls] == ["multipart/form-data"] * 2
        assert calls[0].params["reply_parameters"]["message_id"] == 7  # JSON fields survive the form
        assert await stored(db) == (["sent", "sent"], 0)  # the bytes go once delivered
    finally:
        await db.dispose()


# the second upload goes to a chat that does not exist, on purpose: refused for good
@pytest.mark.refusals("sendPhoto 400 Bad Request: chat not found")
async def test_a_failed_upload_is_retried_with_its_bytes_then_forgotten(
    bot_api: FakeBotAPI, transport: ApiTransport, sqlite_database_url: str
) -> None:
    db = await desk.migrated(sqlite_database_url)
    try:
        delivery = desk.delivery(db, transport, LIMITS)
        long_caption = "Figures: " + "42 tickets, 91% on time. " * 60  # over 1024: the rest follows as text
        await upload(db, STAFF, "photo", CHART, "stats.png", long_caption)
        bot_api.faults.fail_next(502, "Bad Gateway", method="sendPhoto")
        await delivery.drain(until_empty=True)
        photos = [c for c in bot_api.calls if c.method == "sendPhoto"]
        assert [c.status for c in photos] == [502, 200]
        assert photos[0].files["photo"] == photos[1].files["photo"] == CHART
        staff = bot_api.chat(STAFF).bot_messages
        assert [m.kind for m in staff] == ["photo", "text"]
        assert " ".join(f"{staff[0].caption} {staff[1].text}".split()) == " ".join(long_caption.split())
        assert await stored(db) == (["sent"], 0)

        await upload(db, -100999, "photo", CHART, "stats.png", "to a chat that does not exist")
        await delivery.drain(until_empty=True)
        assert bot_api.calls[-1].method == "sendPhoto" and bot_api.calls[-1].status == 400
        assert await stored(db) == (["sent", "failed"], 0)  # refused for good: nothing kept either
    finally:
        await db.dispose()


async def test_a_rolled_back_handler_leaves_neither_row_nor_file(sqlite_database_url: str) -> None:
    db = await desk.migrated(sqlite_database_url)
    try:
        with pytest.raises(RuntimeError):
            async with db.session() as session:
                await outbox.send_upload(session, STAFF, "photo", CHART, "stats.png", "image/png")
                raise RuntimeError("the handler failed after queueing")
        assert await stored(db) == ([], 0)
        with pytest.raises(ValueError, match="photo or a document"):
            async with db.session() as session:
                await outbox.send_upload(session, STAFF, "video", CHART, "clip.mp4", "video/mp4")
    finally:
        await db.dispose()

"""Reports through the real bot and the Bot API stand-in: /stats sends a chart and its figures, /export a
CSV file, an empty period says so without an image, non-agents get nothing, and the daily digest
reaches the staff chat once, also across a restart with a changed DIGEST_AT."""

from __future__ import annotations

import asyncio
import csv
import io
import sqlite3
import time
from datetime import UTC, datetime

import pytest
from PIL import Image

from tests.e2e.test_agents import UNKNOWN, register
from tests.support.botapi import FakeBotAPI, Msg

pytestmark = pytest.mark.e2e

FAST = {"OUTBOX_PRIVATE_INTERVAL": "50ms", "OUTBOX_GROUP_PER_MINUTE": "1000", "TIMEZONE": "Europe/Moscow"}


def uploaded(api: FakeBotAPI, message: Msg) -> bytes:
    """The bytes the bot uploaded for a photo or document message."""
    file = message.data["photo"][-1] if "photo" in message.data else message.data["document"]
    content = api.file_content(file["file_id"])
    assert content, f"no uploaded bytes for {message!r}"
    return content


def png_size(data: bytes) -> tuple[int, int]:
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    with Image.open(io.BytesIO(data)) as image:
        image.verify()
    with Image.open(io.BytesIO(data)) as image:
        return image.size


async def test_stats_chart_export_csv_empty_period_and_strangers(bot_api, bot_factory):
    await bot_factory.start(env=FAST)
    staff = bot_factory.staff
    agent = bot_api.user(7001, "Agent1", language_code="en")
    agent_ru = bot_api.user(7002)
    ann = bot_api.user(501, "Ann", language_code="en")
    eve = bot_api.user(666, "Eve", language_code="en")

    # nothing registered yet: said plainly, no image, no file
    await agent.command("stats", chat_id=staff.id)
    empty = await staff.wait_for("No tickets in this period")
    assert empty.kind == "text" and "Last 7 days" in empty.text
    await agent.command("export", "30d", chat_id=staff.id)
    nothing = await staff.wait_for("Nothing to export")
    assert nothing.kind == "text"
    await agent.command("stats", "7x", chat_id=staff.id)
    usage = await staff.wait_for("Usage: /stats")
    assert [m.kind for m in staff.messages[staff.messages.index(empty) :]] == ["text", "text", "text"]
    assert usage is staff.messages[-1]

    number = await register(ann, "The printer on floor 2 is jammed and prints nothing at all")
    await staff.wait_for(number, predicate=lambda m: "📄 Details" in m.buttons, timeout=15, include_seen=True)

    # strangers: the unknown-command reply in private, silence in the group
    for command in ("stats", "export"):
        await eve.send("/" + command)
        assert UNKNOWN in (await eve.next_message()).text
        await eve.send_in(staff.id, f"/{command} 7d")

    # the agent's /stats in the group: the chart and its figures, as a reply to the command
    asked = await agent.command("stats", chat_id=staff.id)
    chart = await staff.wait_for("Statistics", predicate=lambda m: m.kind == "photo")
    assert not any(m.kind in ("photo", "document") for m in staff.messages[: staff.messages.index(chart)])
    assert chart.data["reply_to_message"]["message_id"] == asked.id  # not one of Eve's
    assert png_size(uploaded(bot_api, chart)) == (1080, 1800)
    assert "Last 7 days" in chart.caption and "New tickets: 1" in chart.caption and "By state: New: 1" in chart.caption

    # in a private chat, in the agent's own language
    await agent_ru.send("/lang ru")
    await agent_ru.next_message()
    await agent_ru.command("stats", "24h")
    private = await agent_ru.wait_for("Статистика", predicate=lambda m: m.kind == "photo")
    assert "за 24 ч" in private.caption and png_size(uploaded(bot_api, private)) == (1080, 1800)

    # /export: a CSV file, a header and one row per ticket
    await agent.command("export", "30d", chat_id=staff.id)
    document = await staff.wait_for("Tickets created", predicate=lambda m: m.kind == "document")
    assert document.data["document"]["file_name"].endswith(".csv")
    data = uploaded(bot_api, document)
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    assert [row["number"] for row in rows] == [number]
    assert rows[0]["state"] == "new" and rows[0]["team"] == "" and rows[0]["cause"] == ""


def _noon_zone() -> str:
    """A fixed-offset zone where it is about noon now, so a day boundary never falls inside the test."""
    offset = 12 - datetime.now(UTC).hour
    return f"Etc/GMT{-offset:+d}" if offset else "UTC"


async def test_digest_once_across_a_restart(bot_api, bot_factory):
    zone = _noon_zone()
    env = {**FAST, "TIMEZONE": zone, "DIGEST_AT": "00:00", "SWEEP_EVERY": "300ms"}
    bot = await bot_factory.start(env=env)
    staff = bot_factory.staff
    digest = await staff.wait_for("Daily digest", timeout=20)
    assert f"({zone})" in digest.text and "No tickets yesterday." in digest.text
    await bot.terminate()

    # restarted with another time of day: the job runs (it records the new time) and sends nothing more
    await bot_factory.start(env={**env, "DIGEST_AT": "00:01"})
    database = bot_factory.workdir / "bot.db"
    deadline = time.monotonic() + 20
    while True:
        with sqlite3.connect(database) as conn:
            spec = conn.execute("SELECT spec FROM report_schedules WHERE name = 'daily_digest'").fetchone()
        if spec and spec[0] == f"00:01 {zone}":
            break
        assert time.monotonic() < deadline, f"the digest job never ran after the restart: {spec}"
        await asyncio.sleep(0.1)
    agent = bot_api.user(7001, "Agent1")
    await agent.command("queue", chat_id=staff.id)
    await staff.wait_for("queue")
    assert [m.text for m in staff.messages].count(digest.text) == 1
    assert sum("Daily digest" in (m.text or "") for m in staff.messages) == 1

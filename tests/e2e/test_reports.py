"""Reports through the real bot and the Bot API stand-in: the daily digest reaches the staff chat once, also
across a restart with a changed DIGEST_AT."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from datetime import UTC, datetime

import pytest

pytestmark = pytest.mark.e2e

FAST = {"OUTBOX_PRIVATE_INTERVAL": "50ms", "OUTBOX_GROUP_PER_MINUTE": "1000", "TIMEZONE": "Europe/Moscow"}


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

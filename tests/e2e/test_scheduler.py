"""Follow-ups on the real bot process, with delays in seconds, killed (SIGKILL) and restarted between steps.

Each test drives a customer through the intake and an agent through the commands, then lets the clock
run: reminders, auto-resolve, the close warning, auto-close, the survey, SLA warnings and breaches.
Before every kill the outbox is settled (Telegram's answer recorded); every follow-up must arrive
exactly once, whether it fell due while the bot ran or while it was down (then: once, at start).

A restart of the bot takes several seconds (importing aiogram alone takes 3-5 s here), so a long wait is
simulated where the brief allows it: while the bot is down, the next due time in the SQLite file is
moved to "now" (`fast_forward`), exactly as if the bot had been down that long.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
import time
from pathlib import Path

import pytest

from tests.support.botapi import FakeBotAPI, Msg
from tests.support.botproc import BotFactory, BotProcess

pytestmark = pytest.mark.e2e

NUMBER = re.compile(r"\b(?:INC|REQ)-\d{6}\b")
FAST = {
    "OUTBOX_PRIVATE_INTERVAL": "50ms",
    "OUTBOX_GROUP_PER_MINUTE": "1000",
    "SWEEP_EVERY": "500ms",
    "PROGRESS_UPDATE_P1": "1h",
    "PROGRESS_UPDATE_P2": "1h",
}


async def register(user, text: str) -> str:
    """Walk the intake with the first offered answers; returns the ticket number."""
    await user.send(text)
    for _ in range(15):
        q = await user.next_message(timeout=30)
        if "Registered" in (q.text or ""):
            return NUMBER.search(q.text).group(0)
        if "✅ Confirm" in q.buttons:
            await user.press(q, "✅ Confirm")
        elif "Skip" in user.keyboard:
            await user.press_reply_button("Skip")
        elif "Skip" in q.buttons:
            await user.press(q, "Skip")
        elif q.buttons:
            await user.press(q, q.buttons[0])
    raise AssertionError("the intake did not finish")


def db_path(factory: BotFactory) -> Path:
    return factory.workdir / "bot.db"


def query(factory: BotFactory, sql: str, *args: object) -> list[tuple]:
    with sqlite3.connect(db_path(factory)) as conn:
        return conn.execute(sql, args).fetchall()


async def settled(factory: BotFactory, timeout: float = 10.0) -> None:
    """Wait until no outbox row is pending: every message sent so far is recorded as sent."""
    deadline = time.monotonic() + timeout
    while query(factory, "SELECT count(*) FROM outbox WHERE status = 'pending' AND next_attempt_at <= ?",
                _now())[0][0]:  # fmt: skip
        if time.monotonic() > deadline:
            raise AssertionError(f"outbox not settled: {query(factory, 'SELECT id, chat_id, status FROM outbox')}")
        await asyncio.sleep(0.05)


def _now() -> str:
    from datetime import UTC, datetime

    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


async def crash_and_restart(
    bot: BotProcess, api: FakeBotAPI, factory: BotFactory, *, down_for: float = 0.0, fast_forward: str | None = None
) -> None:
    """SIGKILL once the outbox is settled; optionally stay down, or move a due time to now; start again."""
    await settled(factory)
    assert bot.kill() == -9
    if down_for:
        await asyncio.sleep(down_for)
    if fast_forward is not None:
        with sqlite3.connect(db_path(factory)) as conn:
            conn.execute(f"UPDATE tickets SET {fast_forward} = ? WHERE {fast_forward} IS NOT NULL", (_now(),))
    bot.start()
    await bot.wait_ready(api, timeout=40)


def count(user, marker: str) -> int:
    return sum(marker in m.content for m in user.messages)


async def test_ask_reminders_auto_resolve_across_crashes(bot_api: FakeBotAPI, bot_factory: BotFactory) -> None:
    env = {
        **FAST,
        "INFO_REMINDER_AFTER": "2s",
        "INFO_SECOND_REMINDER_AFTER": "8s",
        "WAITING_AUTO_CLOSE_AFTER": "1h",
        "RESOLVED_AUTO_CLOSE_AFTER": "1h",
        "RESOLVED_CLOSE_WARNING_BEFORE": "10m",
    }
    bot = await bot_factory.start(env=env)
    agent = bot_api.user(7001)
    ann = bot_api.user(501, "Ann", language_code="en")
    number = await register(ann, "The accounting app crashes every time I open the monthly report")

    await agent.command("ask", f"{number} Which version of the app do you use?")
    question = await ann.wait_for("Which version of the app", timeout=15)
    asked = time.monotonic()
    await crash_and_restart(bot, bot_api, bot_factory)  # the first reminder falls due while the bot is down

    first = await ann.wait_for("waiting for your answer", timeout=15)
    assert number in first.text and "Which version of the app do you use?" in first.text
    assert time.monotonic() - asked >= 2.0
    first_at = time.monotonic()
    await crash_and_restart(bot, bot_api, bot_factory)

    second = await ann.wait_for("second reminder", timeout=20)  # 8 s after the first: usually while running
    assert number in second.text and "closed as resolved in 59 min" in second.text
    assert time.monotonic() - first_at >= 7.5
    await crash_and_restart(bot, bot_api, bot_factory, fast_forward="auto_close_due_at")  # down for an hour

    resolved = await ann.wait_for("marked it as resolved", timeout=15)
    assert number in resolved.text and resolved.buttons == ["👍 Yes, it's fixed", "👎 Still a problem"]
    await crash_and_restart(bot, bot_api, bot_factory)
    await ann.expect_no_message(2.0)

    assert [count(ann, m) for m in ("waiting for your answer", "second reminder", "marked it as resolved")] == [1, 1, 1]
    assert count(ann, "Which version of the app") == 3  # the question, and both reminders quoting it
    assert bot_api.duplicate_sends(501) == []
    assert question.id < first.id < second.id < resolved.id
    assert query(bot_factory, "SELECT state FROM tickets WHERE number = ?", number) == [("resolved",)]
    card = bot_factory.staff.messages[0]
    assert number in card.content and "no answer from the customer" in card.content


async def test_resolve_warning_auto_close_survey_across_crashes(bot_api: FakeBotAPI, bot_factory: BotFactory) -> None:
    env = {**FAST, "RESOLVED_AUTO_CLOSE_AFTER": "1h", "RESOLVED_CLOSE_WARNING_BEFORE": "3595s", "SURVEY_AFTER": "0s"}
    bot = await bot_factory.start(env=env)
    agent = bot_api.user(7001)
    ann = bot_api.user(502, "Ann", language_code="en")
    number = await register(ann, "I need access to the shared finance folder for the audit")

    await agent.command("resolve", f"{number} Access granted to the finance folder; please log in again.")
    await ann.wait_for("finance folder; please log in again", timeout=15)
    resolved_at = time.monotonic()
    await crash_and_restart(bot, bot_api, bot_factory)

    warning = await ann.wait_for("will be closed", timeout=15)  # 5 s after the resolution
    assert (
        number in warning.text and "👍 Yes, it's fixed" in warning.buttons and "👎 Still a problem" in warning.buttons
    )
    assert time.monotonic() - resolved_at >= 4.5
    await crash_and_restart(bot, bot_api, bot_factory, fast_forward="auto_close_due_at")  # down for an hour

    closed = await ann.wait_for("is closed", timeout=15)
    survey = await ann.wait_for("How satisfied", timeout=15)
    assert number in closed.text and survey.buttons == ["1", "2", "3", "4", "5"]
    await crash_and_restart(bot, bot_api, bot_factory)
    await ann.expect_no_message(1.0)

    # the rating and the comment (the next free message)
    press = await ann.press(survey, "4")
    await press.answer()
    await ann.wait_for("Thank you for your rating", timeout=15)
    await ann.wait_edit(survey, "⭐⭐⭐⭐ (4/5)", predicate=lambda m: not m.buttons)
    await ann.send("Quick and friendly, thanks!")
    await ann.wait_for("passed your comment on", timeout=15)
    comment = await bot_factory.staff.wait_for("Quick and friendly", timeout=15)
    assert number in comment.text and "4/5" in comment.text
    row = query(bot_factory, "SELECT state, rating, rating_comment FROM tickets WHERE number = ?", number)
    assert row == [("closed", 4, "Quick and friendly, thanks!")]
    kinds = [k for (k,) in query(bot_factory, "SELECT kind FROM ticket_events ORDER BY id")]
    assert kinds.count("rating") == 1 and kinds.count("rating_comment") == 1

    for marker in ("🔔", "is closed", "Your rating for", "Thank you for your rating"):  # the survey, as edited
        assert count(ann, marker) == 1, marker
    assert bot_api.duplicate_sends(502) == []


async def test_rating_buttons_are_the_customers_own(bot_api: FakeBotAPI, bot_factory: BotFactory) -> None:
    """A forged rating for someone else's ticket changes nothing (the presser must be the ticket's customer)."""
    bot = await bot_factory.start(env={**FAST, "RESOLVED_AUTO_CLOSE_AFTER": "1s", "SURVEY_AFTER": "0s"})
    agent = bot_api.user(7001)
    ann = bot_api.user(503, "Ann", language_code="en")
    eve = bot_api.user(504, "Eve", language_code="en")
    number = await register(ann, "My laptop does not start since this morning")
    await agent.command("resolve", f"{number} technical Replaced the power adapter; it starts again.")
    survey = await ann.wait_for("How satisfied", timeout=20)
    ticket_id = query(bot_factory, "SELECT id FROM tickets WHERE number = ?", number)[0][0]
    await eve.send("/start")
    greeting = await eve.next_message(timeout=15)
    forged = await eve.press_data(greeting, f"rt:{ticket_id}:1")
    assert "no longer available" in (await forged.answer())["text"]
    assert query(bot_factory, "SELECT rating FROM tickets WHERE id = ?", ticket_id) == [(None,)]
    await ann.press(survey, "5")
    await ann.wait_for("Thank you for your rating", timeout=15)
    assert query(bot_factory, "SELECT rating FROM tickets WHERE id = ?", ticket_id) == [(5,)]
    assert bot.running


def sla_messages(staff) -> list[Msg]:
    return [m for m in staff.messages if "target" in m.content]


async def test_sla_warning_and_breach_across_crashes(bot_api: FakeBotAPI, bot_factory: BotFactory) -> None:
    cells = {f"SLA_{kind}_P{n}": "10s/1h" for kind in ("INCIDENT", "REQUEST") for n in range(1, 5)}
    bot = await bot_factory.start(env={**FAST, **cells})
    staff = bot_factory.staff
    agent = bot_api.user(7001)
    ann = bot_api.user(505, "Ann", language_code="en")
    number = await register(ann, "The VPN disconnects every few minutes for our whole team")
    registered = time.monotonic()

    warning = await staff.wait_for("first response is due", timeout=15)  # 80 % of 10 s, while running
    assert number in warning.text and "Nobody has taken it yet" in warning.text
    assert time.monotonic() - registered >= 7.0
    await crash_and_restart(bot, bot_api, bot_factory)  # the breach falls due while the bot is down

    breach = await staff.wait_for("first-response target (10 s) is missed", timeout=15)
    assert number in breach.text
    await agent.command("take", number)
    await ann.wait_for("Agent1", timeout=15)
    # down until 80 % of the hour: the resolution warning at start
    await crash_and_restart(bot, bot_api, bot_factory, fast_forward="resolution_due")
    # (with the due time now, it is a breach straight away: one message, the warning is not sent late)

    res_breach = await staff.wait_for("resolution target (1 h) is missed", timeout=15)
    mention = next(e for e in res_breach.data.get("entities", []) if e["type"] == "text_mention")
    assert mention["user"]["id"] == 7001 and "Assignee: Agent1" in res_breach.text
    await crash_and_restart(bot, bot_api, bot_factory)
    await asyncio.sleep(1.5)

    sla = sla_messages(staff)
    assert len(sla) == 3, [m.content for m in sla]
    card = staff.messages[0]
    assert all(m.reply_to == card.id for m in sla)  # under the card
    assert "SLA: resolution overdue" in card.content
    kinds = [k for (k,) in query(bot_factory, "SELECT kind FROM ticket_events WHERE kind LIKE 'sla_%' ORDER BY id")]
    assert kinds == ["sla_warning", "sla_breach", "sla_breach"]
    assert bot_api.duplicate_sends(bot_factory.staff_chat_id) == []

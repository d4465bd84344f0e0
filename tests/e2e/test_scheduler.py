"""Follow-ups on the real bot process, killed (SIGKILL) and restarted between steps, on a clock the test drives.

Each test drives a customer through the intake and an agent through the commands, then lets the clock
run: reminders, auto-resolve, the close warning, auto-close, the survey, SLA warnings and breaches.
Before every kill the outbox is settled (Telegram's answer recorded); every follow-up must arrive
exactly once, whether it fell due while the bot ran or while it was down (then: once, at start).

The clock is the test's: delays are hours, and the test moves a ticket's due time (the rows are what the
sweeps read) while the bot is down, exactly as if it had been down that long. So nothing here depends on
how fast a busy machine runs: "not early" is checked on the due times the bot stored, "not twice" with a
later follow-up that the same start-up sweep sends after anything it could have repeated (a chat's
messages go out in order). One test lets a one-second delay pass while the bot runs: the periodic sweep.
"""

from __future__ import annotations

import re
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.support.botapi import FakeBotAPI, Msg
from tests.support.botproc import BotFactory, BotProcess
from tests.support.database_state import wait_outbox_settled

pytestmark = pytest.mark.e2e

NUMBER = re.compile(r"\b(?:INC|REQ)-\d{6}\b")
FAST = {
    "OUTBOX_PRIVATE_INTERVAL": "50ms",
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


def stored(value: str | None) -> datetime | None:
    """A timestamp as the bot stores it in SQLite (naive UTC text)."""
    return None if value is None else datetime.fromisoformat(value).replace(tzinfo=UTC)


def due(factory: BotFactory, column: str, number: str) -> datetime | None:
    return stored(query(factory, f"SELECT {column} FROM tickets WHERE number = ?", number)[0][0])


def event_at(factory: BotFactory, number: str, kind: str) -> datetime:
    """When the ticket's latest event of this kind was recorded."""
    rows = query(
        factory,
        "SELECT e.at FROM ticket_events e JOIN tickets t ON t.id = e.ticket_id "
        "WHERE t.number = ? AND e.kind = ? ORDER BY e.id DESC LIMIT 1",
        number,
        kind,
    )
    assert rows, f"no {kind} event on {number}"
    return stored(rows[0][0])


def _in(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).strftime("%Y-%m-%d %H:%M:%S.%f")


async def crash_and_restart(
    bot: BotProcess, api: FakeBotAPI, factory: BotFactory, *, move: tuple[str, float] | None = None
) -> None:
    """SIGKILL once the outbox is settled; with ``move=(column, seconds)`` the tickets' due time in that column
    is set to that many seconds from now while the bot is down (the clock jumps); start again."""
    await wait_outbox_settled(factory.default_database_url)
    assert bot.kill() == -9
    if move is not None:
        column, seconds = move
        with sqlite3.connect(db_path(factory)) as conn:
            conn.execute(f"UPDATE tickets SET {column} = ? WHERE {column} IS NOT NULL", (_in(seconds),))
    bot.start()
    await bot.wait_ready(api, timeout=40)


def count(user, marker: str) -> int:
    return sum(marker in m.content for m in user.messages)


def close_to(actual: datetime | None, expected: datetime) -> bool:
    """The same moment up to the milliseconds between two clock reads in one transaction."""
    return actual is not None and abs(actual - expected) < timedelta(seconds=5)


async def test_ask_reminders_auto_resolve_across_crashes(bot_api: FakeBotAPI, bot_factory: BotFactory) -> None:
    env = {
        **FAST,
        "INFO_REMINDER_AFTER": "1h",
        "INFO_SECOND_REMINDER_AFTER": "2h",
        "WAITING_AUTO_CLOSE_AFTER": "10h",
        "RESOLVED_AUTO_CLOSE_AFTER": "1h",
        "RESOLVED_CLOSE_WARNING_BEFORE": "10m",
    }
    bot = await bot_factory.start(env=env)
    agent = bot_api.user(7001)
    ann = bot_api.user(501, "Ann", language_code="en")
    number = await register(ann, "The accounting app crashes every time I open the monthly report")

    await agent.command("ask", f"{number} Which version of the app do you use?")
    question = await ann.wait_for("Which version of the app", timeout=15)
    asked = event_at(bot_factory, number, "question")
    assert close_to(due(bot_factory, "reminder_due_at", number), asked + timedelta(hours=1))  # not earlier
    assert close_to(due(bot_factory, "auto_close_due_at", number), asked + timedelta(hours=10))

    # the first reminder fell due while the bot was down: sent once, at start
    await crash_and_restart(bot, bot_api, bot_factory, move=("reminder_due_at", 0))
    first = await ann.wait_for("waiting for your answer", timeout=30)
    assert number in first.text and "Which version of the app do you use?" in first.text
    reminded = event_at(bot_factory, number, "reminder")
    assert close_to(due(bot_factory, "reminder_due_at", number), reminded + timedelta(hours=2))

    await crash_and_restart(bot, bot_api, bot_factory, move=("reminder_due_at", 0))
    second = await ann.wait_for("second reminder", timeout=30)
    assert number in second.text and "closed as resolved in" in second.text
    assert due(bot_factory, "reminder_due_at", number) is None  # two reminders, no third

    await crash_and_restart(bot, bot_api, bot_factory, move=("auto_close_due_at", 0))  # down for ten hours
    resolved = await ann.wait_for("marked it as resolved", timeout=30)
    assert number in resolved.text and resolved.buttons == ["👍 Yes, it's fixed", "👎 Still a problem"]

    # down until five minutes before the close: the warning is due, sent by the start-up sweep after anything
    # it could have sent again (the sweeps run in order in one pass, Ann's messages go out in order)
    await crash_and_restart(bot, bot_api, bot_factory, move=("auto_close_due_at", 300))
    warning = await ann.wait_for("will be closed", timeout=30)
    assert number in warning.text

    assert [count(ann, m) for m in ("waiting for your answer", "second reminder", "marked it as resolved")] == [1, 1, 1]
    assert count(ann, "Which version of the app") == 3  # the question, and both reminders quoting it
    assert bot_api.duplicate_sends(501) == []
    assert question.id < first.id < second.id < resolved.id < warning.id
    assert query(bot_factory, "SELECT state FROM tickets WHERE number = ?", number) == [("resolved",)]
    card = bot_factory.staff.messages[0]
    assert number in card.content and "no answer from the customer" in card.content


async def test_resolve_warning_auto_close_survey_across_crashes(bot_api: FakeBotAPI, bot_factory: BotFactory) -> None:
    env = {**FAST, "RESOLVED_AUTO_CLOSE_AFTER": "1h", "RESOLVED_CLOSE_WARNING_BEFORE": "10m", "SURVEY_AFTER": "1h"}
    bot = await bot_factory.start(env=env)
    agent = bot_api.user(7001)
    ann = bot_api.user(502, "Ann", language_code="en")
    number = await register(ann, "I need access to the shared finance folder for the audit")

    await agent.command("resolve", f"{number} Access granted to the finance folder; please log in again.")
    await ann.wait_for("finance folder; please log in again", timeout=15)
    resolved_at = due(bot_factory, "resolved_at", number)
    assert close_to(due(bot_factory, "auto_close_due_at", number), resolved_at + timedelta(hours=1))

    # down until five minutes before the close: the warning (due ten minutes before) is sent at start
    await crash_and_restart(bot, bot_api, bot_factory, move=("auto_close_due_at", 300))
    warning = await ann.wait_for("will be closed", timeout=30)
    assert (
        number in warning.text and "👍 Yes, it's fixed" in warning.buttons and "👎 Still a problem" in warning.buttons
    )
    await crash_and_restart(bot, bot_api, bot_factory, move=("auto_close_due_at", 0))  # down past the close
    closed = await ann.wait_for("is closed", timeout=30)
    assert number in closed.text
    assert close_to(
        due(bot_factory, "survey_due_at", number), due(bot_factory, "closed_at", number) + timedelta(hours=1)
    )
    # the survey's hour passes while the bot is down: sent at start, after anything the closing sweep of the
    # same pass could have repeated
    await crash_and_restart(bot, bot_api, bot_factory, move=("survey_due_at", 0))
    survey = await ann.wait_for("How satisfied", timeout=30)
    assert survey.buttons == ["1", "2", "3", "4", "5"]
    await crash_and_restart(bot, bot_api, bot_factory)
    # nothing is due any more: what the sweeps read says a restart has nothing to send again
    assert query(
        bot_factory, "SELECT state, auto_close_due_at, survey_due_at FROM tickets WHERE number = ?", number
    ) == [("closed", None, None)]

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
    cells = {f"SLA_{kind}_P{n}": "1h/4h" for kind in ("INCIDENT", "REQUEST") for n in range(1, 5)}
    bot = await bot_factory.start(env={**FAST, **cells})
    staff = bot_factory.staff
    agent = bot_api.user(7001)
    ann = bot_api.user(505, "Ann", language_code="en")
    number = await register(ann, "The VPN disconnects every few minutes for our whole team")
    created = due(bot_factory, "created_at", number)
    assert close_to(due(bot_factory, "first_response_due", number), created + timedelta(hours=1))
    assert close_to(due(bot_factory, "resolution_due", number), created + timedelta(hours=4))

    # down until six minutes before the first response is due: past 80 %, the warning is sent at start
    await crash_and_restart(bot, bot_api, bot_factory, move=("first_response_due", 360))
    warning = await staff.wait_for("first response is due", timeout=30)
    assert number in warning.text and "Nobody has taken it yet" in warning.text
    await crash_and_restart(bot, bot_api, bot_factory, move=("first_response_due", 0))  # and past the target
    breach = await staff.wait_for("first-response target (1 h) is missed", timeout=30)
    assert number in breach.text
    await agent.command("take", number)
    await ann.wait_for("Agent1", timeout=15)
    # down past the resolution target: a breach straight away (the warning is not sent late)
    await crash_and_restart(bot, bot_api, bot_factory, move=("resolution_due", 0))
    res_breach = await staff.wait_for("resolution target (4 h) is missed", timeout=30)
    mention = next(e for e in res_breach.data.get("entities", []) if e["type"] == "text_mention")
    assert mention["user"]["id"] == 7001 and "Assignee: Agent1" in res_breach.text
    await crash_and_restart(bot, bot_api, bot_factory)
    # each warning and breach is flagged as announced: a restart has nothing to announce again
    flags = query(bot_factory, "SELECT sla_flags FROM tickets WHERE number = ?", number)[0][0]
    for flag in ("first_response_warning", "first_response_breach", "resolution_warning", "resolution_breach"):
        assert flag in flags, flags
    await agent.command("resolve", f"{number} technical The VPN concentrator was overloaded; added capacity.")
    await ann.wait_for("is resolved", timeout=15)  # the clocks stop; work on the ticket goes on as usual
    await staff.wait_edit(staff.messages[0], "Resolved", timeout=15)

    sla = sla_messages(staff)
    assert [m.id for m in sla] == [warning.id, breach.id, res_breach.id], [m.content for m in sla]
    card = staff.messages[0]
    assert all(m.reply_to == card.id for m in sla)  # under the card
    kinds = [k for (k,) in query(bot_factory, "SELECT kind FROM ticket_events WHERE kind LIKE 'sla_%' ORDER BY id")]
    assert kinds == ["sla_warning", "sla_breach", "sla_breach"]
    assert bot_api.duplicate_sends(bot_factory.staff_chat_id) == []

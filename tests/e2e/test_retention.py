"""RETENTION_DAYS in a running bot: personal data of long-finished tickets is erased, everything else stays.

The retention sweep runs at start and then daily. The test is the clock: while the bot is down, one
customer's closed ticket (and their last message) is moved a month into the past; the restarted bot
erases it at once, leaves the other customer's open ticket alone, and goes on answering both.
"""

from __future__ import annotations

import re
import sqlite3

import pytest

from tests.support.database_state import wait_outbox_settled, wait_until_true

pytestmark = pytest.mark.e2e

FAST = {"OUTBOX_PRIVATE_INTERVAL": "50ms", "RETENTION_DAYS": "30"}
NUMBER = re.compile(r"\b(?:INC|REQ)-\d{6}\b")


async def register(user, text: str, contact: str) -> str:
    """Walk the intake with the first offered answers and a contact; returns the ticket number."""
    await user.send(text)
    for _ in range(15):
        q = await user.next_message(timeout=30)
        if "Registered" in (q.text or ""):
            return NUMBER.search(q.text).group(0)
        if "✅ Confirm" in q.buttons:
            await user.press(q, "✅ Confirm")
        elif "call back" in (q.text or ""):
            await user.send(contact)
        elif "Skip" in q.buttons:
            await user.press(q, "Skip")
        elif q.buttons:
            await user.press(q, q.buttons[0])
    raise AssertionError("the intake did not finish")


def rows(path, sql: str, *args: object) -> list[tuple]:
    with sqlite3.connect(path) as conn:
        return conn.execute(sql, args).fetchall()


async def test_retention_erases_finished_tickets_in_a_running_bot(bot_api, bot_factory):
    bot = await bot_factory.start(env=FAST)
    db = bot_factory.workdir / "bot.db"
    agent = bot_api.user(7001)
    ann = bot_api.user(501, "Ann", username="ann_k", language_code="en")
    bob = bot_api.user(502, "Bob", language_code="en")
    old = await register(ann, "My monitor flickers since the update on my desk in room 12", "ext. 4411")
    kept = await register(bob, "Please give me access to the finance share for the audit", "ext. 5522")
    await agent.command("resolve", f"{old} technical Replaced the monitor cable; no flicker for an hour.")
    await ann.wait_for("is resolved", timeout=20)
    await agent.command("close", old)
    await ann.wait_for("is closed", timeout=20)

    # a month passes (for Ann's ticket and Ann) while the bot is down
    await wait_outbox_settled(bot_factory.default_database_url)
    bot.kill()
    month_ago = "datetime('now', '-31 days')"
    with sqlite3.connect(db) as conn:
        conn.execute(f"UPDATE tickets SET closed_at = {month_ago}, updated_at = {month_ago} WHERE number = ?", (old,))
        conn.execute(
            f"UPDATE customers SET last_seen_at = {month_ago}, created_at = {month_ago} WHERE telegram_id = 501"
        )
    bot.start()
    await bot.wait_ready(bot_api, timeout=40)

    async def erased() -> bool:
        return rows(db, "SELECT personal_data_erased_at FROM tickets WHERE number = ?", old)[0][0] is not None

    await wait_until_true(erased, "the retention sweep at start to erase the month-old ticket")
    await bot.wait_log("retention (30 days): erased 1 tickets, 1 customers' names", timeout=30)  # the sweep ended
    assert rows(db, "SELECT description, contact, resolution_report, state FROM tickets WHERE number = ?", old) == [
        ("", None, None, "closed")
    ]
    assert rows(db, "SELECT first_name, username, phone FROM customers WHERE telegram_id = 501") == [("", None, None)]
    notes = rows(db, "SELECT e.note FROM ticket_events e JOIN tickets t ON t.id = e.ticket_id WHERE t.number = ?", old)
    assert not any(note and ("flicker" in note or "monitor cable" in note) for (note,) in notes)
    # Bob's open ticket keeps everything
    assert rows(db, "SELECT description, contact, personal_data_erased_at FROM tickets WHERE number = ?", kept) == [
        ("Please give me access to the finance share for the audit", "ext. 5522", None)
    ]

    # both keep talking to the bot: the numbers stay, the words are gone
    await ann.command("my")
    listing = await ann.wait_for(old, timeout=20)
    assert "flicker" not in listing.text
    await bob.command("status", kept)
    status = await bob.wait_for(kept, timeout=20)
    assert "finance share" in status.text

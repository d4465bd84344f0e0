"""Smoke: a customer completes an intake against the real bot process."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.e2e


async def test_english_intake_registers_ticket(bot_api, bot_factory):
    await bot_factory.start(env={"OUTBOX_PRIVATE_INTERVAL": "50ms"})
    ann = bot_api.user(501, "Ann", username="ann", language_code="en")
    await ann.send("The printer on floor 2 is jammed and prints nothing")
    q = await ann.next_message(timeout=20)
    print(q.describe())
    assert "service" in q.text.lower() or "affected" in q.text.lower()

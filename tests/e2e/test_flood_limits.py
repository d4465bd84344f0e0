"""The bot keeps to Telegram's flood limits with its own default pacing, which the stand-in enforces.

The other end-to-end tests shorten the bot's waits where a test conversation fits in Telegram's burst
allowance; here the staff group gets more than its 20 messages a minute, at the bot's default pacing
(OUTBOX_GROUP_PER_MINUTE), so a budget that is too generous is refused by the stand-in and fails the test.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.e2e

ANSWERS = 22  # more than a group's 20 a minute


@pytest.mark.timeout(240)
async def test_the_staff_group_gets_no_more_than_telegram_allows(bot_api, bot_factory):
    await bot_factory.start(env={"OUTBOX_PRIVATE_INTERVAL": "50ms"})  # the group budget is left at its default
    staff = bot_factory.staff
    agent = bot_api.user(7001)
    for _ in range(ANSWERS):
        await agent.send_in(staff.id, "/queue")
    # all of them arrive (the last ones a minute after the first: the bot waits, it is not told to)
    for _ in range(ANSWERS):
        await staff.wait_for("Queue", timeout=150)
    assert len([m for m in staff.messages if "queue" in m.content.casefold()]) == ANSWERS
    assert bot_api.flood.refusals == []  # Telegram's 20 a minute was never exceeded, so never enforced

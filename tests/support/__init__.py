"""Test support: a strict Bot API stand-in, simulated users, the bot process runner, database helpers.

Import it as ``tests.support`` (``tests/conftest.py`` puts the repository root on ``sys.path``), never as
``support``: two import names would give two copies of module state such as the log-file registry.

A typical end-to-end test (fixtures from ``tests/conftest.py``)::

    pytestmark = pytest.mark.e2e

    async def test_intake(bot_api, bot_factory, database_url):
        await bot_factory.start(database_url, env={"OUTBOX_PRIVATE_INTERVAL": "50ms"})
        ann = bot_api.user(501, "Ann", username="ann", language_code="en")
        await ann.send("/start")
        menu = await ann.next_message()            # consumed once; AssertionError with history on timeout
        await ann.press(menu, "New request")       # by visible label, on the message's current keyboard
        card = await bot_factory.staff.wait_for("INC-")       # the staff group (-100123)
        agent = bot_api.users[7001]                # agents 7001/7002 are registered and may be written to
        await agent.send_in(bot_factory.staff.id, "Restart it", reply_to=card)
        assert "Restart it" in (await ann.wait_for("Restart")).text
        assert bot_api.errors() == []              # the bot made no call Telegram would refuse

Things the stand-in does as Telegram does (and a bot must cope with): editing without ``reply_markup``
removes the inline keyboard; an identical edit is 400 "message is not modified"; a callback query can be
answered once and only for ``callback_max_age`` seconds; users who never wrote cannot be messaged (403);
``deleteWebhook(drop_pending_updates=True)`` forgets queued updates; a second concurrent getUpdates ends
the first with 409; a plain message inside a forum topic arrives as a *reply* to the topic's service
message; a non-admin bot in a group sees only commands and replies to itself (privacy mode).
"""

from __future__ import annotations

from tests.support.botapi import ApiError, Call, FakeBotAPI, Faults, Msg
from tests.support.users import SimChannel, SimGroup, SimUser

__all__ = ["ApiError", "Call", "FakeBotAPI", "Faults", "Msg", "SimChannel", "SimGroup", "SimUser"]

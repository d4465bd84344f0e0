"""Webhook mode against the real bot process: secret header, store-before-200, redelivery, CLI, health."""

from __future__ import annotations

import asyncio
import socket
import time

import aiohttp
import pytest
from sqlmodel import select

from bot.polling import ALLOWED_UPDATES
from storage.db import Database
from storage.models import InboxUpdate
from tests.support.database_state import wait_outbox_settled

pytestmark = pytest.mark.e2e

SECRET = "s3cret_Header-value_0123456789"
PATH = "/telegram/webhook"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def webhook_env(port: int, **extra: str) -> dict[str, str]:
    return {
        "WEBHOOK_URL": f"http://127.0.0.1:{port}{PATH}",
        "WEBHOOK_SECRET": SECRET,
        "WEBHOOK_HOST": "127.0.0.1",
        "WEBHOOK_PORT": str(port),
        "WEBHOOK_PATH": PATH,
        "OUTBOX_PRIVATE_INTERVAL": "50ms",
        **extra,
    }


async def post(url: str, payload: object, secret: str | None) -> int:
    headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret is not None else {}
    async with aiohttp.ClientSession() as http, http.post(url, json=payload, headers=headers) as resp:
        await resp.read()
        return resp.status


async def inbox_rows(database_url: str) -> list[InboxUpdate]:
    db = Database(database_url)
    try:
        async with db.read() as session:
            return list((await session.exec(select(InboxUpdate))).all())
    finally:
        await db.dispose()


def message_update(update_id: int, user_id: int, text: str) -> dict:
    user = {"id": user_id, "is_bot": False, "first_name": "Mallory", "language_code": "en"}
    return {
        "update_id": update_id,
        "message": {
            "message_id": 1,
            "from": user,
            "chat": {"id": user_id, "type": "private", "first_name": "Mallory"},
            "date": 1_700_000_000,
            "text": text,
        },
    }


async def test_webhook_refuses_bad_secret_and_handles_redelivery_once(bot_api, bot_factory, database_url):
    port = free_port()
    bot = await bot_factory.start(database_url, env=webhook_env(port))
    url = f"http://127.0.0.1:{port}{PATH}"

    # registered with Telegram: the secret, our update types, no token in the address
    await bot_api.wait_call("setWebhook", timeout=10)
    assert bot_api.webhook is not None
    assert bot_api.webhook["url"] == url
    assert bot_api.webhook["secret_token"] == SECRET
    assert set(bot_api.webhook["allowed_updates"]) == set(ALLOWED_UPDATES)
    assert bot_factory.token not in bot_api.webhook["url"]
    assert bot_factory.token.split(":")[1] not in bot_api.webhook["url"]

    # forged requests: refused, not stored, not answered
    bot_api.user(666, "Mallory", started=True)
    forged = message_update(900_000_001, 666, "/start")
    assert await post(url, forged, None) == 403
    assert await post(url, forged, "wrong-secret") == 403
    assert await post(url, forged, SECRET + "x") == 403
    assert await post(url, forged, "") == 403
    # the bot stores an update before it answers 200: a request answered 403 was never stored, so nothing
    # can ever handle it
    assert [r.update_id for r in await inbox_rows(database_url)] == []
    assert "refused a webhook request" in bot.log_text()

    # a real customer through Telegram's webhook delivery
    ann = bot_api.user(501, "Ann", username="ann", language_code="en")
    await ann.start()
    welcome = await ann.next_message(timeout=20)
    assert welcome.text
    update = bot_api.updates[-1]
    await bot_api.wait_update_confirmed(update["update_id"], timeout=10)

    # Telegram redelivers the same update (e.g. our 200 got lost), even twice at once: handled once
    statuses = await asyncio.gather(*(post(url, update, SECRET) for _ in range(3)))
    assert statuses == [200, 200, 200]
    rows = [r for r in await inbox_rows(database_url) if r.update_id == update["update_id"]]
    assert len(rows) == 1 and rows[0].status == "done"
    # Ann's next update is handled after anything her redelivered one could have caused (a chat's updates
    # go one at a time, in order): once its answer is there, a second welcome would be too
    await ann.command("help")
    await ann.wait_for("How I can help", timeout=20)
    assert [m.id for m in ann.messages if "Hello, Ann" in m.content] == [welcome.id]

    # health on the webhook server
    async with aiohttp.ClientSession() as http:
        async with http.get(f"http://127.0.0.1:{port}/healthz") as resp:
            body = await resp.json()
            assert resp.status == 200, body
        assert body["status"] == "ok"
        assert body["mode"] == "webhook"
        assert body["database_reachable"] is True
        assert body["inbox_backlog"] == 0
        assert isinstance(body["outbox_backlog"], int)
        assert body["last_webhook_age_seconds"] is not None
        async with http.get(f"http://127.0.0.1:{port}/metrics") as resp:
            text = await resp.text()
            assert resp.status == 200
        assert "helpdesk_updates_processed_total" in text
        assert 'helpdesk_webhook_requests_total{result="forbidden"} 4.0' in text
        # the token is not a route
        async with http.post(f"http://127.0.0.1:{port}/bot{bot_factory.token}", json=update) as resp:
            assert resp.status in (404, 405)

    # polling is never used in webhook mode, and the webhook is not deleted
    assert not bot_api.calls_to(methods=["getUpdates", "deleteWebhook"])
    assert await bot.terminate() == 0


async def test_webhook_mode_needs_a_secret(bot_api, bot_factory):
    port = free_port()
    bot = bot_factory(env=webhook_env(port, WEBHOOK_SECRET=""))
    bot.start()
    code = await bot.wait_exit(30)
    assert code not in (None, 0), bot.log_tail()
    errors = [line for line in bot.log_text().splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "WEBHOOK_SECRET is required" in errors[0], bot.log_tail()
    assert not bot_api.calls_to(methods=["setWebhook", "getUpdates"])


async def test_webhook_port_in_use_fails_clearly(bot_api, bot_factory):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        bot = bot_factory(env=webhook_env(port))
        bot.start()
        code = await bot.wait_exit(30)
    assert code not in (None, 0), bot.log_tail()
    assert f"error: cannot listen on 127.0.0.1:{port}" in bot.log_text()


async def test_set_and_delete_webhook_cli(bot_api, bot_factory):
    env = webhook_env(8443, WEBHOOK_URL="https://desk.example.com")
    done = await bot_factory.arun_cli(["set-webhook"], env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().count("\n") == 0
    assert "https://desk.example.com/telegram/webhook" in done.stdout
    call = bot_api.calls_to(methods="setWebhook")[-1]
    assert call.params["url"] == "https://desk.example.com/telegram/webhook"
    assert call.params["secret_token"] == SECRET
    assert call.params["allowed_updates"] == ALLOWED_UPDATES
    assert not call.params.get("drop_pending_updates")
    assert bot_api.webhook is not None

    done = await bot_factory.arun_cli(["delete-webhook"], env=env)
    assert done.returncode == 0, done.stderr
    assert "webhook deleted" in done.stdout
    assert bot_api.webhook is None
    assert not bot_api.calls_to(methods="deleteWebhook")[-1].params.get("drop_pending_updates")

    missing = await bot_factory.arun_cli(["set-webhook"], env={**env, "WEBHOOK_SECRET": ""})
    assert missing.returncode != 0
    assert missing.stderr.strip().startswith("error: WEBHOOK_SECRET is required")
    assert missing.stderr.strip().count("\n") == 0

    no_url = await bot_factory.arun_cli(["set-webhook"], env={**env, "WEBHOOK_URL": ""})
    assert no_url.returncode != 0 and "WEBHOOK_URL is not set" in no_url.stderr

    unreachable = await bot_factory.arun_cli(
        ["set-webhook"], env={**env, "TELEGRAM_API_URL": f"http://127.0.0.1:{free_port()}"}
    )
    assert unreachable.returncode == 3, unreachable.stderr
    assert "cannot reach the Bot API" in unreachable.stderr
    for done in (missing, no_url, unreachable):
        assert bot_factory.token not in done.stdout + done.stderr


async def test_health_endpoint_in_polling_mode(bot_api, bot_factory, database_url):
    port = free_port()
    bot = await bot_factory.start(database_url, env={"HEALTH_PORT": str(port), "HEALTH_HOST": "127.0.0.1"})
    ann = bot_api.user(502, "Ann", language_code="en")
    await ann.start()
    await ann.next_message(timeout=20)
    await wait_outbox_settled(database_url)  # the welcome's send is recorded: nothing left to send
    async with aiohttp.ClientSession() as http:
        async with http.get(f"http://127.0.0.1:{port}/healthz") as resp:
            assert resp.content_type == "application/json"
            body = await resp.json()
            assert resp.status == 200, body
        lived = time.monotonic() - bot.started_at
        assert body["status"] == "ok" and body["mode"] == "polling"
        assert body["database_reachable"] is True
        assert body["database"] == ("sqlite" if database_url.startswith("sqlite") else "postgresql")
        assert 0 <= body["last_poll_age_seconds"] <= lived  # a poll of this process, not a stale value
        assert body["inbox_backlog"] == 0 and body["inbox_parked"] == 0
        assert body["outbox_backlog"] == 0
        async with http.get(f"http://127.0.0.1:{port}/metrics") as resp:
            text = await resp.text()
        assert 'helpdesk_updates_processed_total{kind="message",outcome="handled"} 1.0' in text
        assert "helpdesk_update_latency_seconds_bucket" in text
        assert "helpdesk_inbox_backlog 0.0" in text

"""The python-telegram-bot runtime's own HTTP client: raw results, ptb's User-Agent, errors in delivery's terms."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from bot.api_transport import ApiTransport
from bot.bindings.ptb import PtbRuntime
from bot.bot_api import BotApiError, BotApiUnreachable
from scheduler.delivery.transport import Rejected, RetryLater, Transient, Unreachable
from tests.support.http import local_server
from tests.unit.test_bot_api_transport import ANSWERS, TOKEN

ME = {"id": 1, "is_bot": True, "first_name": "Desk", "username": "desk_bot"}


@pytest.fixture
async def server() -> AsyncIterator[tuple[str, list[tuple[str, dict[str, Any], str]]]]:
    seen: list[tuple[str, dict[str, Any], str]] = []

    async def answer(request: web.Request) -> web.Response:
        method = request.match_info["method"]
        form = {key: value for key, value in (await request.post()).items()}
        seen.append((method, form, request.headers.get("User-Agent", "")))
        if method == "getMe":
            return web.json_response({"ok": True, "result": ME})
        if request.match_info["token"] != TOKEN:
            return web.json_response({"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401)
        status, body = ANSWERS.get(method, (200, {"ok": True, "result": [{"update_id": 1, "poll": {"id": "new"}}]}))
        if isinstance(body, bytes):
            return web.Response(status=status, body=body, content_type="text/html")
        return web.json_response(body, status=status)

    app = web.Application()
    app.router.add_post("/bot{token}/{method}", answer)
    async with local_server(app) as url:
        yield url, seen


async def test_calls_carry_ptb_user_agent_and_results_stay_raw_json(server) -> None:
    url, seen = server
    runtime = PtbRuntime(TOKEN, url)
    try:
        assert await runtime.start() == "desk_bot"
        updates = await runtime.request("getUpdates", {"timeout": 0, "allowed_updates": ["message"]}, timeout=5)
        assert updates == [{"update_id": 1, "poll": {"id": "new"}}]  # not turned into ptb's objects
        payload = {"chat_id": 1, "text": "<b>Привет</b> 🙂", "reply_markup": {"inline_keyboard": [[]]}}
        result = await ApiTransport(runtime).call("sendMessage", payload)
        assert result == {"message_id": 5, "chat": {"id": 1, "type": "private"}}
        method, form, _agent = seen[-1]
        assert method == "sendMessage" and form["text"] == payload["text"]
        assert json.loads(form["reply_markup"]) == payload["reply_markup"]
        assert all(agent.startswith("python-telegram-bot") for _m, _f, agent in seen)
    finally:
        await runtime.close()


@pytest.mark.parametrize(
    ("method", "error", "detail"),
    [
        ("tooMany", RetryLater, "Flood control"),
        ("blocked", Unreachable, "blocked"),
        ("bad", Rejected, "(?i)can't parse entities"),
        ("migrated", Rejected, "migrated to -1001"),
        ("down", Transient, "Bad Gateway"),
        ("html", Transient, "network"),
    ],
)
async def test_answers_map_to_delivery_errors(server, method: str, error: type, detail: str) -> None:
    url, _seen = server
    runtime = PtbRuntime(TOKEN, url)
    try:
        with pytest.raises(error, match=detail) as caught:
            await ApiTransport(runtime).call(method, {"chat_id": 1})
        if method == "tooMany":
            assert caught.value.retry_after == 7
    finally:
        await runtime.close()


async def test_a_refused_token_and_an_unreachable_api(server) -> None:
    url, _seen = server
    wrong = PtbRuntime("123456:WRONG-token-abcdefghijklmnopqrstuvwxyz", url)
    nowhere = PtbRuntime(TOKEN, "http://127.0.0.1:9")
    try:
        with pytest.raises(BotApiError) as refused:
            await wrong.request("getUpdates", {}, timeout=5)
        assert refused.value.code == 401
        with pytest.raises(BotApiUnreachable):
            await nowhere.request("getMe", {}, timeout=5)
    finally:
        await wrong.close()
        await nowhere.close()

"""The outbox through the aiogram runtime: rows posted as JSON, the Bot API's answers in delivery's terms."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from bot.api_transport import ApiTransport
from bot.bindings.aiogram3 import AiogramRuntime
from scheduler.delivery.transport import Rejected, RetryLater, Transient, Unreachable
from tests.support.http import local_server

TOKEN = "123456:TRANSPORT-token-abcdefghijklmnopqrstuvwxyz"

#: method -> (HTTP status, body); the body is JSON unless it is bytes
ANSWERS: dict[str, tuple[int, Any]] = {
    "sendMessage": (200, {"ok": True, "result": {"message_id": 5, "chat": {"id": 1, "type": "private"}}}),
    "tooMany": (
        429,
        {"ok": False, "error_code": 429, "description": "Too Many Requests", "parameters": {"retry_after": 7}},
    ),
    "blocked": (403, {"ok": False, "error_code": 403, "description": "Forbidden: bot was blocked by the user"}),
    "bad": (400, {"ok": False, "error_code": 400, "description": "Bad Request: can't parse entities"}),
    "migrated": (
        400,
        {"ok": False, "error_code": 400, "description": "Bad Request: group chat was upgraded to a supergroup chat",
         "parameters": {"migrate_to_chat_id": -1001}},
    ),
    "down": (502, {"ok": False, "error_code": 502, "description": "Bad Gateway"}),
    "html": (502, b"<html>proxy error</html>"),
}  # fmt: skip


@pytest.fixture
async def server() -> AsyncIterator[tuple[str, list[tuple[str, Any, str]]]]:
    seen: list[tuple[str, Any, str]] = []

    async def answer(request: web.Request) -> web.Response:
        method = request.match_info["method"]
        seen.append((method, await request.json(), request.content_type))
        status, body = ANSWERS[method]
        if isinstance(body, bytes):
            return web.Response(status=status, body=body, content_type="text/html")
        return web.json_response(body, status=status)

    app = web.Application()
    app.router.add_post("/bot{token}/{method}", answer)
    async with local_server(app) as url:
        yield url, seen


async def test_rows_go_as_json_and_the_result_comes_back(server: tuple[str, list[Any]]) -> None:
    url, seen = server
    runtime = AiogramRuntime(TOKEN, url)
    try:
        transport = ApiTransport(runtime)
        payload = {"chat_id": 1, "text": "<b>Привет</b> 🙂", "reply_markup": {"inline_keyboard": [[]]}}
        result = await transport.call("sendMessage", payload)
        assert result == {"message_id": 5, "chat": {"id": 1, "type": "private"}}
        assert seen == [("sendMessage", payload, "application/json")]
    finally:
        await runtime.close()


@pytest.mark.parametrize(
    ("method", "error", "detail"),
    [
        ("tooMany", RetryLater, "Too Many Requests"),
        ("blocked", Unreachable, "blocked"),
        ("bad", Rejected, "can't parse entities"),
        ("migrated", Rejected, "migrated to -1001"),
        ("down", Transient, "Bad Gateway"),
        ("html", Transient, "not JSON"),
    ],
)
async def test_answers_map_to_delivery_errors(
    server: tuple[str, list[Any]], method: str, error: type, detail: str
) -> None:
    url, _seen = server
    runtime = AiogramRuntime(TOKEN, url)
    try:
        with pytest.raises(error, match=detail) as caught:
            await ApiTransport(runtime).call(method, {"chat_id": 1})
        if method == "tooMany":
            assert caught.value.retry_after == 7
    finally:
        await runtime.close()


async def test_an_unreachable_api_is_a_network_error_worth_retrying() -> None:
    runtime = AiogramRuntime(TOKEN, "http://127.0.0.1:9")  # nothing listens on the discard port
    try:
        with pytest.raises(Transient, match=r"^network"):
            await ApiTransport(runtime, request_timeout=5).call("sendMessage", {"chat_id": 1, "text": "x"})
    finally:
        await runtime.close()

"""Webhook mode: Telegram POSTs updates to us; several processes can share them behind a load balancer.

- Every request must carry `X-Telegram-Bot-Api-Secret-Token: WEBHOOK_SECRET`; anything else gets 403
  and is neither parsed nor stored.
- An update is stored in the inbox (`UpdateInbox.store`) before the 200 goes back, so a crash after
  the answer loses nothing; if storing fails the answer is 500 and Telegram delivers it again.
  A redelivered update is recognised by its `update_id` and handled once.
- The bot token never appears in the URL: the path is WEBHOOK_PATH, the check is the secret header.
- `/healthz` and `/metrics` are served on the same port (route only WEBHOOK_PATH publicly).

WEBHOOK_URL is the public address Telegram calls. If it has no path, WEBHOOK_PATH is appended
(`https://bot.example.com` → `https://bot.example.com/telegram/webhook`).
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import re
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from aiohttp import web

from bot.bot_api import BotApiError, BotApiUnreachable, Runtime
from bot.handlers.update import fits_id
from bot.health import Liveness, add_health_routes, run_site
from bot.inbox import UpdateInbox
from bot.polling import ALLOWED_UPDATES
from bot.runtime import make_runtime
from helpdesk import metrics

log = logging.getLogger("bot.webhook")

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
SECRET_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,256}$")  # what Telegram accepts as secret_token
MAX_BODY = 4 * 1024 * 1024
REFUSED_LOG_EVERY = 60.0  # seconds between log lines about refused requests (they can come in floods)


def public_url(settings: Any) -> str:
    """The URL given to setWebhook: WEBHOOK_URL, with WEBHOOK_PATH appended when it has no path."""
    url = (settings.webhook_url or "").strip()
    parts = urlsplit(url)
    if parts.path in ("", "/"):
        parts = parts._replace(path=local_path(settings))
    return urlunsplit(parts)


def local_path(settings: Any) -> str:
    path = (settings.webhook_path or "/").strip()
    return path if path.startswith("/") else f"/{path}"


def webhook_secret(settings: Any) -> str:
    """WEBHOOK_SECRET, checked; raises ValueError with a one-line reason."""
    secret = settings.webhook_secret.get_secret_value().strip() if settings.webhook_secret else ""
    if not secret:
        raise ValueError(
            "WEBHOOK_SECRET is required in webhook mode (WEBHOOK_URL is set): "
            "choose 16+ random characters from A-Z a-z 0-9 _ -"
        )
    if not SECRET_PATTERN.match(secret):
        raise ValueError("WEBHOOK_SECRET may contain only A-Z a-z 0-9 _ - (1 to 256 characters), as Telegram requires")
    return secret


def check_settings(settings: Any, token: str) -> None:
    """Everything webhook mode needs, checked at start; raises ValueError with a one-line reason."""
    webhook_secret(settings)
    url = public_url(settings)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"WEBHOOK_URL must be an https:// address Telegram can reach, got {settings.webhook_url!r}")
    secret_part = token.split(":", 1)[-1]
    if secret_part and (secret_part in url or secret_part in local_path(settings)):
        raise ValueError("WEBHOOK_URL and WEBHOOK_PATH must not contain the bot token: the secret header protects it")


class WebhookReceiver:
    """The request handler: secret check, store, answer."""

    def __init__(self, inbox: UpdateInbox, secret: str) -> None:
        self.inbox = inbox
        self._secret = secret.encode()
        self.last_request_at: float | None = None
        self.refused = 0
        self._refused_logged_at = 0.0

    async def handle(self, request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, self._secret):
            self._note_refused(request, "missing" if not given else "wrong")
            return web.Response(status=403, text="forbidden")
        try:
            payload = await request.json()
        except Exception:
            metrics.webhook_requests.labels(result="bad_request").inc()
            return web.Response(status=400, text="body must be a JSON Telegram Update")
        update_id = payload.get("update_id") if isinstance(payload, dict) else None
        if not fits_id(update_id):
            metrics.webhook_requests.labels(result="bad_request").inc()
            return web.Response(status=400, text="body must be a JSON Telegram Update")
        self.last_request_at = time.monotonic()
        try:
            # stored (committed) before Telegram hears 200; a duplicate update_id is ignored
            await self.inbox.store([payload])
        except Exception:
            log.exception("storing update %s failed; answering 500 so Telegram delivers it again", update_id)
            metrics.webhook_requests.labels(result="error").inc()
            return web.Response(status=500, text="try again")
        metrics.webhook_requests.labels(result="stored").inc()
        return web.Response(status=200)

    def _note_refused(self, request: web.Request, why: str) -> None:
        self.refused += 1
        metrics.webhook_requests.labels(result="forbidden").inc()
        now = time.monotonic()
        if now - self._refused_logged_at >= REFUSED_LOG_EVERY:
            self._refused_logged_at = now
            log.warning(
                "refused a webhook request from %s: %s secret header (%d refused so far)",
                request.remote,
                why,
                self.refused,
            )


def build_app(inbox: UpdateInbox, settings: Any) -> tuple[web.Application, WebhookReceiver]:
    receiver = WebhookReceiver(inbox, webhook_secret(settings))
    app = web.Application(client_max_size=MAX_BODY)
    app.router.add_post(local_path(settings), receiver.handle)
    add_health_routes(app, inbox.db, Liveness.webhook(lambda: receiver.last_request_at))
    return app, receiver


async def register(runtime: Runtime, settings: Any) -> None:
    """setWebhook with the secret and our update types; never drops pending updates."""
    await runtime.request(
        "setWebhook",
        {
            "url": public_url(settings),
            "secret_token": webhook_secret(settings),
            "allowed_updates": list(ALLOWED_UPDATES),
            "drop_pending_updates": False,
        },
        timeout=30,
    )


async def serve_webhook(runtime: Runtime, inbox: UpdateInbox, settings: Any, stop: asyncio.Event) -> None:
    """Serve the webhook (and /healthz, /metrics) on WEBHOOK_HOST:WEBHOOK_PORT until `stop` is set.

    Once listening, the process (re-)registers the webhook, so a new deployment or a changed secret
    takes effect; several processes doing so at once is harmless (same URL, same secret).
    """
    app, _receiver = build_app(inbox, settings)
    await run_site(
        app,
        settings.webhook_host,
        int(settings.webhook_port),
        stop,
        "webhook server",
        when_listening=lambda: _register_logged(runtime, settings, stop),
    )


async def _register_logged(runtime: Runtime, settings: Any, stop: asyncio.Event) -> None:
    for attempt in range(1, 6):
        try:
            await register(runtime, settings)
            log.info("webhook registered: %s", public_url(settings))
            return
        except BotApiError as exc:
            if exc.code == 401:
                log.error("the Bot API rejected the token (401) while setting the webhook; stopping")
                stop.set()
                return
            log.warning("setWebhook failed (%s); attempt %d of 5", exc.description, attempt)
            if exc.retry_after is None:
                return  # refused for good (bad URL…): keep serving; `python -m bot set-webhook` shows why
            await asyncio.sleep(exc.retry_after)
        except (BotApiUnreachable, TimeoutError, OSError) as exc:
            log.warning("setWebhook failed (%s); attempt %d of 5", exc or type(exc).__name__, attempt)
            await asyncio.sleep(min(30.0, 2.0**attempt))
    log.warning("could not register the webhook; updates arrive only if it was registered before")


# -- CLI: python -m bot set-webhook / delete-webhook -----------------------------------------------------


async def _cli_call(settings: Any, action: str, call: Callable[[Runtime], Awaitable[object]]) -> int:
    """Run one Bot API call for the CLI; a failure is one `error:` line and the exit code to use."""
    try:
        runtime = make_runtime(settings.bot_runtime, settings.token(), settings.telegram_api_url)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        await call(runtime)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except BotApiError as exc:
        if exc.code == 401:
            print("error: the Bot API rejected TELEGRAM_BOT_TOKEN (401 Unauthorized): check the token", file=sys.stderr)
            return 2
        print(f"error: Telegram refused {action}: {exc.description}", file=sys.stderr)
        return 1
    except (BotApiUnreachable, TimeoutError, OSError) as exc:
        reason = str(exc) or type(exc).__name__
        print(f"error: cannot reach the Bot API at {settings.telegram_api_url}: {reason}", file=sys.stderr)
        return 3
    finally:
        await runtime.close()
    return 0


async def set_webhook(settings: Any) -> int:
    """Register WEBHOOK_URL with Telegram; prints one line; 0 on success."""
    if not settings.webhook_url:
        print("error: WEBHOOK_URL is not set (the public https:// address Telegram should call)", file=sys.stderr)
        return 2

    async def call(runtime: Runtime) -> None:
        check_settings(settings, settings.token())
        await register(runtime, settings)

    code = await _cli_call(settings, "the webhook", call)
    if code == 0:
        print(f"webhook set: {public_url(settings)} (secret header on; updates: {', '.join(ALLOWED_UPDATES)})")
    return code


async def delete_webhook(settings: Any) -> int:
    """Remove the webhook (pending updates are kept for getUpdates); prints one line; 0 on success."""
    code = await _cli_call(
        settings,
        "to delete the webhook",
        lambda runtime: runtime.request("deleteWebhook", {"drop_pending_updates": False}, timeout=30),
    )
    if code == 0:
        print("webhook deleted: pending updates are kept; start the bot without WEBHOOK_URL to long-poll")
    return code

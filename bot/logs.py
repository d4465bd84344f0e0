"""Logging: one line per event, text or JSON (`LOG_FORMAT=json`), and the bot token never written anywhere.

Every line goes through `redact`, which replaces registered secrets (the token, its secret half, the
webhook secret) wherever they appear: in messages, arguments, tracebacks, even in URLs of errors.
Uncaught exceptions (main thread, other threads, asyncio) go through logging too, so they are redacted.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
from datetime import UTC, datetime
from typing import Any

_SECRETS: set[str] = set()
_MIN_SECRET = 6


def register_secret(value: str | None) -> None:
    """Any log line containing `value` gets it replaced (the token, the webhook secret)."""
    if value and len(value) >= _MIN_SECRET:
        _SECRETS.add(value)
        if ":" in value:  # the token's secret half alone is as sensitive as the whole
            half = value.split(":", 1)[1]
            if len(half) >= _MIN_SECRET:
                _SECRETS.add(half)


def forget_secrets() -> None:
    """Tests only: start again with no registered secrets."""
    _SECRETS.clear()


def redact(text: str) -> str:
    """`text` with every registered secret replaced by `***` (longest first, so no half survives)."""
    for secret in sorted(_SECRETS, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, "***")
    return text


class RedactingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, msg, the record's structured `fields`, exc."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            for key, value in fields.items():
                entry.setdefault(key, value)
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return redact(json.dumps(entry, ensure_ascii=False, default=str))


def _install_excepthooks() -> None:
    """Uncaught exceptions are logged (hence redacted) instead of printed raw by the interpreter."""

    def _hook(exc_type: type[BaseException], exc: BaseException, tb: Any) -> None:
        if issubclass(exc_type, KeyboardInterrupt):
            sys.__excepthook__(exc_type, exc, tb)
            return
        logging.getLogger("bot").critical("uncaught exception", exc_info=(exc_type, exc, tb))

    def _thread_hook(args: threading.ExceptHookArgs) -> None:
        if args.exc_type is SystemExit:
            return
        logging.getLogger("bot").critical(
            "uncaught exception in thread %s",
            getattr(args.thread, "name", "?"),
            exc_info=(args.exc_type, args.exc_value or args.exc_type(), args.exc_traceback),
        )

    sys.excepthook = _hook
    threading.excepthook = _thread_hook


def setup_logging(level: str = "INFO", fmt: str = "text") -> None:
    handler = logging.StreamHandler(sys.stderr)
    if fmt.lower() == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.captureWarnings(True)
    _install_excepthooks()
    # httpx (python-telegram-bot's client) logs every request at INFO
    for noisy in ("aiogram.event", "apscheduler", "aiosqlite", "asyncio", "alembic", "httpx", "telegram.ext"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

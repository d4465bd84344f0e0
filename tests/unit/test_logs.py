"""bot.logs: secrets never reach a log line, JSON lines carry the structured fields."""

from __future__ import annotations

import io
import json
import logging
import sys

import pytest

from bot import logs
from bot.logs import JsonFormatter, RedactingFormatter, redact, register_secret

TOKEN = "123456:TEST-token-abcdefghijklmnopqrstuvwxyz0123"
HALF = TOKEN.split(":", 1)[1]


@pytest.fixture(autouse=True)
def secrets():
    logs.forget_secrets()
    register_secret(TOKEN)
    yield
    logs.forget_secrets()


def test_redact_replaces_the_token_and_its_secret_half_everywhere() -> None:
    assert redact(f"GET /bot{TOKEN}/getMe") == "GET /bot***/getMe"
    assert redact(f"half {HALF} and again {HALF}") == "half *** and again ***"
    assert redact(f"url-encoded 123456%3A{HALF}") == "url-encoded 123456%3A***"
    assert redact("nothing secret here: 123456") == "nothing secret here: 123456"
    assert TOKEN not in redact(TOKEN * 3) and HALF not in redact(TOKEN + HALF)


def test_short_or_empty_values_are_not_registered() -> None:
    register_secret(None)
    register_secret("")
    register_secret("abc")  # would blank out ordinary words
    register_secret("x:y")
    assert redact("abc x:y y") == "abc x:y y"


def test_webhook_secret_is_redacted_too() -> None:
    register_secret("s3cr3t-webhook-value")
    assert redact("header s3cr3t-webhook-value") == "header ***"


def _record(msg: str, *args: object, exc: BaseException | None = None, **extra: object) -> logging.LogRecord:
    record = logging.LogRecord("bot.test", logging.ERROR, __file__, 1, msg, args, None)
    if exc is not None:
        record.exc_info = (type(exc), exc, exc.__traceback__)
    for key, value in extra.items():
        setattr(record, key, value)
    return record


def _raised(text: str) -> BaseException:
    try:
        raise RuntimeError(text)
    except RuntimeError as exc:
        return exc


def test_text_format_redacts_arguments_and_tracebacks() -> None:
    fmt = RedactingFormatter("%(levelname)s %(name)s: %(message)s")
    line = fmt.format(_record("calling %s", f"https://api/bot{TOKEN}/x", exc=_raised(f"bad {TOKEN}")))
    assert TOKEN not in line and HALF not in line
    assert "***" in line and "Traceback" in line


def test_json_format_is_one_object_per_line_with_fields_and_redaction() -> None:
    fields = {"update": 5, "chat": 7, "kind": "message", "outcome": "handled", "latency_ms": 1.5}
    line = JsonFormatter().format(_record("update=5 token %s", TOKEN, fields=fields, exc=_raised(HALF)))
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["level"] == "error" and entry["logger"] == "bot.test"
    assert entry["outcome"] == "handled" and entry["latency_ms"] == 1.5 and entry["update"] == 5
    assert TOKEN not in line and HALF not in line and "***" in entry["msg"]
    assert "RuntimeError" in entry["exc"]


def test_setup_logging_routes_uncaught_exceptions_through_redaction(monkeypatch) -> None:
    stream = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)
    saved = logging.getLogger().handlers[:], logging.getLogger().level, sys.excepthook
    try:
        logs.setup_logging("INFO", "json")
        logging.getLogger("bot.x").info("token is %s", TOKEN)
        exc = _raised(f"crash with {TOKEN}")
        sys.excepthook(type(exc), exc, exc.__traceback__)
    finally:
        root = logging.getLogger()
        root.handlers[:], _level, hook = saved
        root.setLevel(_level)
        sys.excepthook = hook
    out = stream.getvalue()
    assert out.count("\n") == 2
    assert TOKEN not in out and HALF not in out
    assert all(json.loads(line)["msg"] for line in out.splitlines())

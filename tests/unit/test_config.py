"""Settings: each declared once, parsed as people write them, refused in one line naming the setting."""

from __future__ import annotations

import ast
import socket
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.config import Settings
from bot.database import open_database
from bot.operator_errors import settings_error
from helpdesk.policy import DeskPolicy
from tests.support.botproc import DEFAULT_TOKEN, run_cli

REPO = Path(__file__).resolve().parents[2]


def settings(**env: str) -> Settings:
    return Settings(_env_file=None, **{k.lower(): v for k, v in env.items()})


def refusal(**env: str) -> str:
    """The `error:` line an operator would see for these values."""
    with pytest.raises(ValidationError) as caught:
        settings(**env)
    return str(settings_error(caught.value))


def test_durations_agent_ids_and_policy() -> None:
    s = settings(
        AGENT_IDS="1, 2;3",
        INFO_REMINDER_AFTER="45s",
        WAITING_AUTO_CLOSE_AFTER="3d",
        SLA_INCIDENT_P1="10m/2h",
        BUSINESS_HOURS="Mon-Fri 09:00-18:00",
        TIMEZONE="Europe/Moscow",
    )
    assert s.agent_ids == frozenset({1, 2, 3})
    assert s.info_reminder_after == timedelta(seconds=45)
    policy = s.policy()
    assert policy.waiting_auto_close_after == timedelta(days=3)
    assert policy.is_agent(2) and not policy.is_agent(4)
    assert not policy.calendar.is_always and policy.calendar.tz == "Europe/Moscow"
    assert str(policy.sla.target("incident", "P1")) == "10m/2h"
    assert not hasattr(policy, "telegram_bot_token")  # the domain gets the desk's rules, not the secrets


def test_progress_update_every_sets_both_priorities_unless_one_is_given() -> None:
    assert settings().progress_update_p1 == timedelta(hours=1)
    assert settings().progress_update_p2 == timedelta(hours=4)
    both = settings(PROGRESS_UPDATE_EVERY="30m")
    assert (both.progress_update_p1, both.progress_update_p2) == (timedelta(minutes=30), timedelta(minutes=30))
    pair = settings(PROGRESS_UPDATE_EVERY="20s/40s")
    assert (pair.progress_update_p1, pair.progress_update_p2) == (timedelta(seconds=20), timedelta(seconds=40))
    assert pair.policy().progress_update_p2 == timedelta(seconds=40)
    explicit = settings(PROGRESS_UPDATE_EVERY="30m", PROGRESS_UPDATE_P2="2h")
    assert (explicit.progress_update_p1, explicit.progress_update_p2) == (timedelta(minutes=30), timedelta(hours=2))


def test_every_desk_tunable_is_declared_once() -> None:
    """The domain's rules are DeskPolicy's fields; Settings inherits them and declares none of them again."""
    assert Settings.model_fields.keys() >= DeskPolicy.model_fields.keys()
    redeclared = set(Settings.__annotations__) & set(DeskPolicy.model_fields)
    assert redeclared == set(), f"declared in bot/config.py again: {sorted(redeclared)}"
    assert settings().policy() == DeskPolicy()
    with pytest.raises(ValidationError, match="calendar"):
        DeskPolicy(calendar="Mon-Fri 09:00-18:00")  # a rule that is not one fails, never silently ignored
    source = (REPO / "helpdesk" / "policy.py").read_text()
    imported = {
        (node.module if isinstance(node, ast.ImportFrom) else alias.name).split(".")[0]
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    assert not imported & {"bot", "pydantic_settings", "aiogram"}, imported


def test_an_empty_value_means_unset_and_spaces_around_values_do_not_count(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text(
        "STAFF_CHAT_ID=\nAGENT_IDS=\nHEALTH_PORT=\nTIMEZONE=Europe/Moscow \nDB_POOL_SIZE=3\nRETENTION_DAYS=\n"
    )
    s = Settings(_env_file=env)
    assert s.staff_chat_id is None and s.agent_ids == frozenset() and s.health_port is None
    assert s.timezone == "Europe/Moscow" and s.retention_days is None
    assert s.db_pool_size == 3  # read from .env like every other setting


@pytest.mark.parametrize(
    ("env", "line"),
    [
        ({"TIMEZONE": "Mars/Base"}, "TIMEZONE: 'Mars/Base' is not a time zone"),
        ({"BUSINESS_HOURS": "Mon-Fri 9-18"}, "BUSINESS_HOURS 'Mon-Fri 9-18': expected e.g. 'Mon-Fri 09:00-18:00'"),
        ({"BUSINESS_HOURS": "Funday 09:00-18:00"}, "'Funday' is not a day"),
        ({"SLA_INCIDENT_P1": "fast"}, "SLA_INCIDENT_P1: 'fast' is not 'first response/resolution'"),
        ({"SLA_REQUEST_P4": "2d/1d"}, "SLA_REQUEST_P4: first response 2d is after resolution 1d"),
        ({"SLA_WARNING_RATIO": "2"}, "SLA_WARNING_RATIO: Input should be less than 1"),
        ({"DATABASE_URL": "::::"}, "DATABASE_URL: not a database URL"),
        ({"DATABASE_URL": "postgresql+psycopg2://u:secret@h/x"}, "unknown database driver 'postgresql+psycopg2'"),
        ({"DATABASE_URL": "mysql://u:secret@h/x"}, "DATABASE_URL: mysql://u:***@h/x: only SQLite and PostgreSQL"),
        ({"DATABASE_URL": "sqlite+pysqlite:///x.db"}, "is not asynchronous"),
        ({"DB_POOL_SIZE": "0"}, "DB_POOL_SIZE: Input should be greater than or equal to 1"),
        ({"AGENT_IDS": "alice"}, "AGENT_IDS: 'alice' is not a list of Telegram user ids"),
        ({"STAFF_CHAT_ID": "staff"}, "STAFF_CHAT_ID: 'staff' is not a chat id: a group's id is a negative number"),
        ({"STAFF_CHAT_ID": "@mygroup"}, "STAFF_CHAT_ID: '@mygroup' is not a chat id"),
        ({"ESCALATION_CHAT_ID": "https://t.me/desk"}, "ESCALATION_CHAT_ID: 'https://t.me/desk' is not a chat id"),
        ({"DEFAULT_LANGUAGE": "de"}, "DEFAULT_LANGUAGE: 'de' is not a supported language (en or ru)"),
        ({"PROGRESS_UPDATE_EVERY": "1h/2h/3h"}, "PROGRESS_UPDATE_EVERY must be one duration"),
        ({"INFO_REMINDER_AFTER": "soon"}, "INFO_REMINDER_AFTER: not a duration: 'soon'"),
        ({"LOG_LEVEL": "loud"}, "LOG_LEVEL: 'loud' is not a log level"),
        ({"TELEGRAM_API_URL": "api.telegram.org"}, "TELEGRAM_API_URL: 'api.telegram.org' is not an http(s)://"),
        ({"WEBHOOK_PORT": "80800"}, "WEBHOOK_PORT: Input should be less than or equal to 65535"),
    ],
)
def test_a_bad_value_is_one_line_naming_the_setting(env: dict[str, str], line: str) -> None:
    message = refusal(**env)
    assert line in message and "\n" not in message
    assert "secret" not in message  # a password in DATABASE_URL is never echoed


def test_several_bad_values_are_named_together() -> None:
    message = refusal(TIMEZONE="Mars/Base", SLA_INCIDENT_P1="x", LOG_LEVEL="loud")
    assert message.startswith("TIMEZONE: ") and message.endswith("(also invalid: SLA_INCIDENT_P1, LOG_LEVEL)")


def test_token_shape_is_checked() -> None:
    with pytest.raises(ValueError, match="not set"):
        settings().token()
    with pytest.raises(ValueError, match="malformed"):
        settings(TELEGRAM_BOT_TOKEN="hello").token()
    assert settings(TELEGRAM_BOT_TOKEN=DEFAULT_TOKEN).token() == DEFAULT_TOKEN


@pytest.mark.postgres
async def test_db_pool_size_sizes_the_postgres_pool(postgres_database_url: str) -> None:
    db = await open_database(settings(DATABASE_URL=postgres_database_url, DB_POOL_SIZE="3"))
    try:
        # 3 transactions for updates at once; 10 connections more for delivery, sweeps and stores beside them
        assert db.pool_size == 3 and db.engine.pool.size() == 3 + 10
    finally:
        await db.dispose()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize(
    ("env", "code", "line"),
    [
        ({}, 2, "TELEGRAM_BOT_TOKEN is not set"),
        ({"TELEGRAM_BOT_TOKEN": "not-a-token"}, 2, "TELEGRAM_BOT_TOKEN is malformed"),
        (
            {"TELEGRAM_BOT_TOKEN": DEFAULT_TOKEN, "TELEGRAM_API_URL": "http://127.0.0.1:{port}"},
            3,
            "cannot reach the Bot API",
        ),
    ],
)
def test_start_failures_are_one_clear_line(tmp_path: Path, env: dict[str, str], code: int, line: str) -> None:
    env = {k: v.format(port=_free_port()) for k, v in env.items()}
    env["DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path / 'b.db'}"
    result = run_cli([], env, workdir=tmp_path, timeout=60)
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr
    errors = [x for x in result.stderr.splitlines() if x.startswith("error:")]
    assert len(errors) == 1 and line in errors[0], result.stderr

"""Settings: parsing, validation, and the one-line failures operators see at start."""

from __future__ import annotations

import re
import socket
from datetime import timedelta
from pathlib import Path

import pytest

from bot.config import Settings
from tests.support.botproc import DEFAULT_TOKEN, run_cli

REPO = Path(__file__).resolve().parents[2]


def settings(**env: str) -> Settings:
    return Settings(_env_file=None, **{k.lower(): v for k, v in env.items()})


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
    assert not policy.calendar.is_always


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


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"PROGRESS_UPDATE_EVERY": "1h/2h/3h"}, "PROGRESS_UPDATE_EVERY"),
        ({"PROGRESS_UPDATE_EVERY": "often"}, "duration"),
        ({"AGENT_IDS": "alice"}, "AGENT_IDS"),
        ({"INFO_REMINDER_AFTER": "soon"}, "duration"),
        ({"DEFAULT_LANGUAGE": "de"}, "en or ru"),
    ],
)
def test_invalid_settings_are_refused(env: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        settings(**env)


def test_token_shape_is_checked() -> None:
    with pytest.raises(ValueError, match="not set"):
        settings().token()
    with pytest.raises(ValueError, match="malformed"):
        settings(TELEGRAM_BOT_TOKEN="hello").token()
    assert settings(TELEGRAM_BOT_TOKEN=DEFAULT_TOKEN).token() == DEFAULT_TOKEN


def test_env_example_documents_every_setting() -> None:
    documented = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", (REPO / ".env.example").read_text(), re.MULTILINE))
    fields = {name.upper() for name in Settings.model_fields}
    assert fields - documented == set()


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

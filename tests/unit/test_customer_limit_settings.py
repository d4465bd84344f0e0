"""The limits on one customer are whole numbers of at least 1; anything else is one `error:` line, exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.config import Settings
from bot.operator_errors import settings_error
from tests.support.botproc import run_cli

LIMITS = ("MAX_OPEN_TICKETS_PER_CUSTOMER", "FLOOD_MESSAGES_PER_MINUTE")


def refusal(name: str, value: str) -> str:
    with pytest.raises(ValidationError) as caught:
        Settings(_env_file=None, **{name.lower(): value})
    return str(settings_error(caught.value))


@pytest.mark.parametrize("name", LIMITS)
@pytest.mark.parametrize("value", ["0", "-3", "2.5", "ten", "20.0", ""])
def test_a_limit_that_is_no_count_is_refused_naming_it(name: str, value: str) -> None:
    message = refusal(name, value)
    assert message == f"{name}: {value!r} is not a whole number of at least 1"


@pytest.mark.parametrize("name", LIMITS)
def test_a_limit_is_read_as_people_write_it(name: str) -> None:
    settings = Settings(_env_file=None, **{name.lower(): " 3 "})
    assert getattr(settings.policy(), name.lower()) == 3


def test_the_bot_stops_in_one_line_with_exit_2(tmp_path: Path) -> None:
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'bot.db'}", "BOT_ENV_FILE": "", LIMITS[0]: "0"}
    done = run_cli(["migrate"], env, workdir=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip() == f"error: {LIMITS[0]}: '0' is not a whole number of at least 1"

"""Every command's failures take one path (bot.cli.main): one `error:` line, exit 2 for the configuration,
3 for an unreachable service, never a traceback. In-process: `python -m bot` is `sys.exit(main())`."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from bot.cli import main
from bot.config import Settings
from tests.support.botproc import DEFAULT_TOKEN


@pytest.fixture
def operator(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A clean place to run commands from: no setting in the environment, no `.env` but the test's own."""
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'bot.db'}")
    return tmp_path


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def one_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


CASES = [
    # (argv, environment, exit code, what the line says)
    (["run"], {"TIMEZONE": "Mars/Base"}, 2, "error: TIMEZONE: 'Mars/Base' is not a time zone"),
    (["console"], {"SLA_INCIDENT_P2": "soon/later"}, 2, "error: SLA_INCIDENT_P2: not a duration: 'soon'"),
    (["console"], {"BUSINESS_HOURS": "weekdays"}, 2, "error: BUSINESS_HOURS 'weekdays'"),
    (["console", "--lang", "de"], {}, 2, "invalid choice: 'de' (choose from 'en', 'ru')"),
    (["export-labels"], {"DATABASE_URL": "postgresql://nobody@127.0.0.1:{port}/x"}, 3, "cannot reach the database"),
    (["export-customer", "7"], {"DATABASE_URL": "not a url"}, 2, "error: DATABASE_URL: not a database URL"),
    (["erase-customer", "7"], {"DATABASE_URL": "oracle://scott:tiger@h/x"}, 2, "only SQLite and PostgreSQL"),
    (["migrate"], {"DATABASE_URL": "postgresql+pg8000://u@h/x"}, 2, "unknown database driver 'postgresql+pg8000'"),
    (["migrate"], {"DATABASE_URL": "sqlite:///./typo/bot.db"}, 2, "typo does not exist (create it"),
    (["console"], {"DATABASE_URL": "sqlite:///{tmp}/not-a-db.txt"}, 2, "cannot use the SQLite file"),
    (["migrate"], {"DATABASE_URL": "sqlite:////proc/bot.db"}, 2, "error: DATABASE_URL: cannot use the SQLite file"),
    (["classify", "printer"], {"LOG_LEVEL": "chatty"}, 2, "error: LOG_LEVEL: 'chatty' is not a log level"),
    (["eval", "labels.jsonl"], {"AGENT_IDS": "me"}, 2, "error: AGENT_IDS: 'me' is not a list"),
    (["set-webhook"], {}, 2, "error: WEBHOOK_URL is not set"),
    (["delete-webhook"], {}, 2, "error: TELEGRAM_BOT_TOKEN is not set"),
    (
        ["delete-webhook"],
        {"TELEGRAM_BOT_TOKEN": DEFAULT_TOKEN, "TELEGRAM_API_URL": "http://127.0.0.1:{port}"},
        3,
        "cannot reach the Bot API",
    ),
    (["export-labels", "-o", "/proc/no/such/labels.jsonl"], {}, 2, "error: cannot write /proc/no/such/labels.jsonl"),
    (["export-customer", "424242"], {}, 1, "error: no customer with Telegram id 424242"),
    (["report", "--since", "soon"], {}, 2, "error: --since: 'soon' is not a period"),
    (["report"], {"DATABASE_URL": "postgresql://nobody@127.0.0.1:{port}/x"}, 3, "cannot reach the database at"),
    (["eval-groups", "no-such-file.jsonl"], {}, 2, "no-such-file.jsonl"),
    (["nonsense"], {}, 2, "invalid choice: 'nonsense'"),
    (["classify", " "], {}, 2, "error: the text to classify is empty"),
    (["migrate", "nonsense"], {}, 2, "error: no migration 'nonsense': give one of 0001…"),
    (["erase-customer", "me"], {}, 2, "argument telegram_id: invalid int value: 'me'"),
]


@pytest.mark.parametrize(("argv", "env", "code", "line"), CASES, ids=[" ".join(c[0]) + f"-{c[2]}" for c in CASES])
def test_each_command_fails_in_one_line(
    operator: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    env: dict[str, str],
    code: int,
    line: str,
) -> None:
    (operator / "not-a-db.txt").write_text("hello, I am not SQLite\n" * 100)
    port = _closed_port()
    for name, value in env.items():
        monkeypatch.setenv(name, value.format(port=port, tmp=operator))
    assert main(argv) == code
    assert line in one_error(capsys)


def test_a_setting_in_dotenv_is_read_and_refused_like_one_in_the_environment(
    operator: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (operator / ".env").write_text("DB_POOL_SIZE=many\n")
    assert main(["migrate"]) == 2
    assert one_error(capsys).startswith("error: DB_POOL_SIZE: Input should be a valid integer")


def test_a_trailing_space_is_not_part_of_the_value(
    operator: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TIMEZONE", "Europe/Moscow ")
    assert main(["migrate"]) == 0
    assert "database is at revision" in capsys.readouterr().out


def test_migrate_says_what_it_did_and_refuses_to_go_back(operator: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`migrate 0001` on a newer database printed "database is at revision 0010" and exited 0, as if it had
    done what was asked: `migrate` only upgrades, so it now says so (exit 2), and says what it did."""
    from storage import migrate

    known = migrate.revisions()
    assert main(["migrate", known[2]]) == 0
    assert capsys.readouterr().out.strip() == f"database is at revision {known[2]} (migrated from an empty database)"
    assert main(["migrate", known[1]]) == 2
    assert one_error(capsys) == (
        f"error: the database is at revision {known[2]}, newer than {known[1]}: migrate only upgrades "
        "(to go back, restore the backup taken before the upgrade)"
    )
    assert main(["migrate"]) == 0
    assert capsys.readouterr().out.strip() == f"database is at revision {known[-1]} (migrated from {known[2]})"
    assert main(["migrate", known[-1]]) == 0
    assert capsys.readouterr().out.strip() == f"database is at revision {known[-1]} (already; nothing to migrate)"
    for older in ("0001", "base"):
        assert main(["migrate", older]) == 2
        assert "migrate only upgrades" in one_error(capsys), older


@pytest.mark.postgres
def test_a_refused_login_is_a_configuration_error(
    operator: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://no_such_role_zz@127.0.0.1:5432/test")
    assert main(["export-labels"]) == 2
    assert 'error: DATABASE_URL: 127.0.0.1:5432/test refused the connection: role "no_such_role_zz"' in one_error(
        capsys
    )

"""A newcomer's first commands: `cp .env.example .env`, then every command as the README shows it.

Each command runs as a real `python -m bot` process in its own directory holding only the shipped
`.env` (no BOT_ENV_FILE), several at a time to keep the wall time down.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess

import pytest

from helpdesk.triage.model import load_model
from tests.support.botproc import REPO_ROOT, arun_cli

#: the module's fixture runs fourteen CLI processes (a model evaluation among them) before the first test:
#: minutes on a loaded 2-core machine, far over the suite's default per-test timeout
pytestmark = pytest.mark.timeout(900)

SAMPLE = REPO_ROOT / "tests" / "data" / "classify_dev.jsonl"
GROUPS = REPO_ROOT / "tests" / "data" / "groups_holdout.jsonl"
#: (name, argv, extra environment, stdin) → checked below
COMMANDS: list[tuple[str, list[str], dict[str, str], str | None]] = [
    ("run", [], {}, None),
    (
        "console",
        ["console"],
        {},
        "\n".join(["My laptop does not turn on after the update, the screen stays black", *["1"] * 8, "/quit"]) + "\n",
    ),
    ("migrate", ["migrate"], {}, None),
    ("classify", ["classify", "the printer on the 3rd floor is jammed"], {}, None),
    ("eval", ["eval", str(SAMPLE)], {}, None),
    ("eval-groups", ["eval-groups", str(GROUPS)], {}, None),
    ("report", ["report"], {}, None),
    ("export-labels", ["export-labels"], {}, None),
    ("export-customer", ["export-customer", "1"], {}, None),
    ("erase-customer", ["erase-customer", "1"], {}, None),
    ("set-webhook", ["set-webhook"], {}, None),
    ("delete-webhook", ["delete-webhook"], {}, None),
    ("healthcheck", ["healthcheck"], {}, None),
    ("unreachable-db", ["export-labels"], {"DATABASE_URL": "postgresql://nobody@127.0.0.1:1/x"}, None),
]


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, subprocess.CompletedProcess[str]]:
    base = tmp_path_factory.mktemp("newcomer")
    cache = tmp_path_factory.getbasetemp() / "triage-cache"  # trained once here, not by three commands at once
    load_model(directory=cache)

    async def one(name: str, argv: list[str], env: dict[str, str], stdin: str | None):
        home = base / name
        home.mkdir()
        shutil.copyfile(REPO_ROOT / ".env.example", home / ".env")
        child = {"BOT_ENV_FILE": None, "TRIAGE_CACHE_DIR": str(cache), **env}
        async with limit:
            return name, await arun_cli(argv, child, workdir=home, cwd=home, input=stdin, timeout=180)

    async def all_of_them():
        return dict(await asyncio.gather(*(one(*command) for command in COMMANDS)))

    limit = asyncio.Semaphore(4)
    return asyncio.run(all_of_them())


EXPECTED = [
    # (name, exit code, the one `error:` line, or None when it succeeds)
    ("run", 2, "error: TELEGRAM_BOT_TOKEN is not set (get one from @BotFather, see README)"),
    ("migrate", 0, None),
    ("classify", 0, None),
    ("eval", 0, None),
    ("eval-groups", 0, None),
    ("report", 0, None),
    ("export-labels", 0, None),
    ("export-customer", 1, "error: no customer with Telegram id 1"),
    ("erase-customer", 1, "error: no customer with Telegram id 1"),
    ("set-webhook", 2, "error: WEBHOOK_URL is not set"),
    ("delete-webhook", 2, "error: TELEGRAM_BOT_TOKEN is not set"),
    ("healthcheck", 2, "error: HEALTH_PORT is not set"),
    ("unreachable-db", 3, "error: cannot reach the database at 127.0.0.1:1/x: connection refused"),
]


@pytest.mark.parametrize(("name", "code", "line"), EXPECTED, ids=[e[0] for e in EXPECTED])
def test_each_command_with_the_shipped_env(
    results: dict[str, subprocess.CompletedProcess[str]], name: str, code: int, line: str | None
) -> None:
    result = results[name]
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr
    errors = [x for x in result.stderr.splitlines() if x.startswith("error:")]
    if line is None:
        assert errors == [], result.stderr
    else:
        assert len(errors) == 1 and errors[0].startswith(line), result.stderr


def test_the_console_registers_a_ticket_with_the_shipped_env(
    results: dict[str, subprocess.CompletedProcess[str]],
) -> None:
    result = results["console"]
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    assert re.search(r"INC-\d{6}", result.stdout), result.stdout


def test_what_the_read_only_commands_print(results: dict[str, subprocess.CompletedProcess[str]]) -> None:
    assert '"category"' in results["classify"].stdout
    assert "type accuracy" in results["eval"].stdout
    assert results["export-labels"].stdout == ""  # a new database has no corrections yet
    assert "database is at revision" in results["migrate"].stdout

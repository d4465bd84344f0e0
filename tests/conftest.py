"""Shared fixtures. Logic lives in ``tests/support``; this file only wires it into pytest.

- ``bot_api``: a started ``FakeBotAPI`` (the Bot API stand-in, Telegram's limits on), stopped after the test;
  the test fails if the stand-in refused a call it did not provoke or a bot took a delivery fallback
  (name the expected ones with ``@pytest.mark.refusals("pattern", ...)``, see tests/support/refusals.py).
- ``database_url``: parametrized ``sqlite`` / ``postgres`` (marked ``postgres``; skipped when the server is
  unreachable unless ``CI`` is set); ``sqlite_database_url`` / ``postgres_database_url`` for one backend.
- ``bot_factory``: builds ``BotProcess`` objects for the real bot with test defaults; kills them at teardown.
- ``triage``: the trained triage model, cached under the session's temporary folder (never in the
  repository's data/), installed as the process-wide one for the module's tests.
- At the end of the session the run fails if any bot/CLI log file shows the test bot token.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:  # plain `pytest` (not `python -m pytest`) must import the project too
    sys.path.insert(0, str(REPO_ROOT))

from helpdesk.triage import Triage  # noqa: E402
from helpdesk.triage import engine as triage_engine  # noqa: E402
from storage import migrate  # noqa: E402
from storage.db import Database  # noqa: E402
from tests.support import refusals  # noqa: E402
from tests.support.botapi import FakeBotAPI  # noqa: E402
from tests.support.botproc import DEFAULT_TOKEN, LOG_MANIFEST_ENV, BotFactory, token_leaks  # noqa: E402
from tests.support.databases import database_for, postgres_database, sqlite_url  # noqa: E402


@pytest.fixture(scope="module")
def triage(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Triage]:
    cache = tmp_path_factory.getbasetemp() / "triage-cache"
    cache.mkdir(exist_ok=True)
    mp = pytest.MonkeyPatch()
    mp.setenv("TRIAGE_CACHE_DIR", str(cache))
    loaded = Triage.load()
    mp.setattr(triage_engine, "_instance", loaded)
    yield loaded
    mp.undo()


def declared_refusals(request: pytest.FixtureRequest) -> list[str]:
    """The patterns of ``@pytest.mark.refusals(...)`` on the test, its class and its module."""
    return [pattern for mark in request.node.iter_markers("refusals") for pattern in mark.args]


@pytest.fixture
async def bot_api(request: pytest.FixtureRequest) -> AsyncIterator[FakeBotAPI]:
    """The Bot API stand-in on a free port; its ``base_url`` is the bot's TELEGRAM_API_URL. After the test:
    no call refused that the test did not provoke (tests/support/refusals.py)."""
    async with FakeBotAPI(token=DEFAULT_TOKEN) as api:
        yield api
        refused = api.unexpected_refusals(*declared_refusals(request))
        if refused:
            pytest.fail(refusals.report(refused, []), pytrace=False)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """An empty database on each backend: a SQLite file, or a fresh PostgreSQL database dropped afterwards."""
    async with database_for(request.param, tmp_path) as url:
        yield url


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    """A migrated database on each backend (see `database_url`), disposed afterwards."""
    database = Database(database_url)
    await migrate.upgrade(database)
    yield database
    await database.dispose()


@pytest.fixture
def sqlite_database_url(tmp_path: Path) -> str:
    """A SQLite file URL in the test's tmp_path."""
    return sqlite_url(tmp_path / "bot.db")


@pytest.fixture
async def postgres_database_url() -> AsyncIterator[str]:
    """A fresh PostgreSQL database (mark the test ``postgres``)."""
    async with postgres_database() as url:
        yield url


#: the Telegram frameworks the bot runs on (BOT_RUNTIME); tests that prove a runtime run on each
RUNTIMES = ("aiogram", "ptb")
#: for an end-to-end test: each runtime, the default one on both databases (python-telegram-bot on SQLite)
ON_EACH_RUNTIME = pytest.mark.parametrize("bot_runtime", RUNTIMES)
ON_EACH_RUNTIME_AND_DATABASE = pytest.mark.parametrize(
    ("database_url", "bot_runtime"),
    [("sqlite", "aiogram"), pytest.param("postgres", "aiogram", marks=pytest.mark.postgres), ("sqlite", "ptb")],
    indirect=["database_url"],
)
#: the HTTP client each runtime's calls come from, as the Bot API sees it (User-Agent)
USER_AGENTS = {"aiogram": "aiohttp", "ptb": "python-telegram-bot"}


@pytest.fixture
def bot_runtime() -> str:
    """BOT_RUNTIME of the bots a test starts: aiogram, unless the test is parametrized over ``RUNTIMES``
    (``@pytest.mark.parametrize("bot_runtime", RUNTIMES)``)."""
    return "aiogram"


@pytest.fixture
async def bot_factory(
    bot_api: FakeBotAPI, tmp_path: Path, bot_runtime: str, request: pytest.FixtureRequest
) -> AsyncIterator[BotFactory]:
    """``bot_factory(database_url=None, env=None)`` → BotProcess; ``await bot_factory.start(...)`` waits until
    it polls. Agents 7001/7002 and the staff group -100123 are registered on ``bot_api``."""
    factory = BotFactory(bot_api, tmp_path / "bots", runtime=bot_runtime)
    try:
        yield factory
    finally:
        await factory.aclose()
    fallbacks = factory.fallback_lines([*declared_refusals(request), *bot_api.expected_refusals])
    if fallbacks:
        pytest.fail(refusals.report([], fallbacks), pytrace=False)


def pytest_configure(config: pytest.Config) -> None:
    """The main pytest process (not an xdist worker) starts the session's list of log files; workers
    inherit its path through the environment and add theirs."""
    if hasattr(config, "workerinput") or os.environ.get(LOG_MANIFEST_ENV):
        return
    handle, path = tempfile.mkstemp(prefix="intake-test-logs-", suffix=".txt")
    os.close(handle)
    os.environ[LOG_MANIFEST_ENV] = path


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run if any bot or CLI log of the session shows the bot token (checked once, in the main
    process, over the logs of every worker)."""
    if hasattr(session.config, "workerinput"):
        return
    leaks = token_leaks(DEFAULT_TOKEN)
    with contextlib.suppress(OSError):
        os.unlink(os.environ.get(LOG_MANIFEST_ENV, ""))
    if not leaks:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    lines = ["", "BOT TOKEN LEAKED into process logs (tests/support/botproc.token_leaks):", *leaks[:20]]
    for line in lines:
        if reporter is not None:
            reporter.write_line(line, red=True)
        else:
            print(line, file=sys.stderr)
    session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """``tests/test_zz_token_never_logged.py`` greps every log of the session, so it runs last."""
    items.sort(key=lambda item: "test_zz_" in item.nodeid.split("::")[0])

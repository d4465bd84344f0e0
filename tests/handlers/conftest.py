"""The in-process handler tier: a `desk` per test on a copy of one migrated SQLite database, per runtime.

Each test runs once per runtime (`runtime` parameter): the update reaches the handler layer the way that
runtime delivers it. `pg_desk` is the same on a fresh PostgreSQL database, for what depends on it (row
locks, advisory locks, a second process).
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from bot.bindings.aiogram3 import AiogramRuntime
from bot.bindings.ptb import PtbRuntime
from bot.handlers.context import ButtonAnswers
from helpdesk.triage import get_triage
from storage import migrate
from storage.db import Database
from tests.conftest import RUNTIMES
from tests.handlers.harness import Desk, LocalRequest
from tests.support.databases import postgres_database, sqlite_url

TOKEN = "123456:HANDLERS-token-abcdefghijklmnopqrstuvwxyz"


@pytest.fixture(scope="session")
def triage() -> Any:
    return get_triage()


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file per test session; each test gets a copy (migrating costs more than a test)."""
    path = tmp_path_factory.mktemp("handlers-template") / "template.db"

    async def build() -> None:
        db = Database(sqlite_url(path))
        await migrate.upgrade(db)
        await db.dispose()

    asyncio.run(build())
    return path


async def runtime_delivery(name: str) -> tuple[Callable[[Any], Any], ButtonAnswers | None]:
    """How the named runtime hands an update to the handler layer (button answers: the desk's own)."""
    if name == "aiogram":
        return AiogramRuntime(TOKEN, "http://127.0.0.1:9").deliver_to, None  # its HTTP is never used here
    runtime = PtbRuntime(TOKEN, "http://127.0.0.1:9", request=LocalRequest())
    await runtime.start()
    return runtime.deliver_to, None


@pytest.fixture(params=RUNTIMES)
def runtime(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
async def desk(runtime: str, migrated_sqlite: Path, tmp_path: Path, triage: Any) -> AsyncIterator[Desk]:
    path = tmp_path / "desk.db"
    shutil.copyfile(migrated_sqlite, path)
    db = Database(sqlite_url(path))
    deliver_to, answers = await runtime_delivery(runtime)
    yield Desk(db, deliver_to, answers, triage)
    await db.dispose()


@pytest.fixture
async def pg_desk(runtime: str, postgres_database_url: str, triage: Any) -> AsyncIterator[Desk]:
    db = Database(postgres_database_url)
    await migrate.upgrade(db)
    deliver_to, answers = await runtime_delivery(runtime)
    yield Desk(db, deliver_to, answers, triage)
    await db.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def any_desk(
    request: pytest.FixtureRequest, runtime: str, migrated_sqlite: Path, tmp_path: Path, triage: Any
) -> AsyncIterator[Desk]:
    """The desk on each database (a copy of the migrated SQLite file, a fresh PostgreSQL one), per runtime."""
    async with contextlib.AsyncExitStack() as stack:
        if request.param == "sqlite":
            path = tmp_path / "desk.db"
            shutil.copyfile(migrated_sqlite, path)
            db = Database(sqlite_url(path))
        else:
            db = Database(await stack.enter_async_context(postgres_database()))
            await migrate.upgrade(db)
        deliver_to, answers = await runtime_delivery(runtime)
        yield Desk(db, deliver_to, answers, triage)
        await db.dispose()

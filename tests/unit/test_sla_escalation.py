"""Hierarchical escalation of SLA breaches: every breach reaches MANAGER_IDS privately and
ESCALATION_CHAT_ID, once, besides the staff chat's notice; warnings do not; without managers nothing more."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from helpdesk.clock import now_utc
from scheduler.followup_sweeps import FollowupSweeps
from storage.db import Database
from storage.outbox_rows import bell
from tests.unit import desk
from tests.unit.desk import STAFF, minutes

MANAGERS = (9001, 9002)
ESCALATIONS = -100900
H = timedelta(hours=1)


@pytest.fixture(autouse=True)
def _fresh_bell() -> None:
    bell.reset()


@pytest.fixture
async def any_db(database_url: str) -> AsyncIterator[Database]:
    database = await desk.migrated(database_url)
    yield database
    await database.dispose()


async def test_breaches_reach_the_managers_once_each(any_db: Database) -> None:
    policy = desk.policy(manager_ids=frozenset(MANAGERS), escalation_chat_id=ESCALATIONS)
    jobs = FollowupSweeps(any_db, policy)
    t0 = now_utc()
    await desk.new_ticket(any_db, policy, 501, priority="P1", created_at=t0)
    await jobs.run(t0 + minutes(12))  # a warning: the staff only
    assert not await desk.rows(any_db, ESCALATIONS)
    await jobs.run(t0 + minutes(16))
    await jobs.run(t0 + minutes(17))  # nothing new: no second message
    for chat in (*MANAGERS, ESCALATIONS):
        (message,) = desk.texts(await desk.rows(any_db, chat))
        assert "SLA breach" in message and "first response was due" in message and "P1" in message
    assert any("is missed" in text for text in desk.texts(await desk.rows(any_db, STAFF)))
    await jobs.run(t0 + 4 * H)
    (_, resolution) = desk.texts(await desk.rows(any_db, ESCALATIONS))
    assert "resolution was due" in resolution


async def test_without_managers_a_breach_goes_to_the_staff_chat_only(any_db: Database) -> None:
    jobs = FollowupSweeps(any_db, desk.HOURLY)
    t0 = now_utc()
    await desk.new_ticket(any_db, desk.HOURLY, 501, priority="P1", created_at=t0)
    await jobs.run(t0 + minutes(16))
    chats = {row.chat_id for row in await desk.rows(any_db)}
    assert chats <= {STAFF, 501}

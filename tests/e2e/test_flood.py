"""What one customer may ask of the desk, through the Bot API stand-in (Telegram's flood limits on):
a burst from one customer gets a handful of answers while others are served, and the staff one digest;
a customer at the open-ticket cap is refused, with the numbers of the open tickets.

No assertion here is about time: counts are read once everything the burst caused has been handled and
sent (every update of the chat done in the inbox, the outbox settled), and the other customer's answer
and the digest are waited for.
"""

from __future__ import annotations

import itertools
import re

import pytest
from sqlalchemy import func
from sqlmodel import select

from helpdesk import tickets
from helpdesk.people import Person, ensure_customer
from helpdesk.policy import DeskPolicy
from helpdesk.vocabulary import Category, Impact, Priority, Urgency
from storage.db import Database
from storage.models import InboxUpdate
from tests.e2e.test_agents import register
from tests.e2e.test_multiprocess import PATH, SECRET, RoundRobinProxy, free_port, wait_healthy
from tests.support.database_state import read, wait_outbox_settled, wait_until_true

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

BURST = 120
LIMIT = 5  # FLOOD_MESSAGES_PER_MINUTE: "a handful"
NUMBER = re.compile(r"\b(?:INC|REQ)-\d{6}\b")


async def handled_updates(database_url: str, chat_id: int) -> int:
    async def count(session) -> int:
        stmt = select(func.count()).where(InboxUpdate.chat_key == chat_id, InboxUpdate.status == "done")
        return int((await session.exec(stmt)).one())

    return await read(database_url, count)


async def test_a_burst_gets_a_handful_of_answers_others_are_served_and_staff_get_one_digest(bot_api, bot_factory):
    database_url = bot_factory.default_database_url
    await bot_factory.start(env={"FLOOD_MESSAGES_PER_MINUTE": str(LIMIT), "OUTBOX_PRIVATE_INTERVAL": "50ms"})
    staff = bot_factory.staff
    ann = bot_api.user(5101, "Ann", language_code="en")
    number = await register(ann, "The label printer in the warehouse jams on every page")
    await wait_outbox_settled(database_url)
    before = len(ann.messages)
    handled_before = await handled_updates(database_url, ann.id)

    bob = bot_api.user(5102, "Bob", language_code="en")
    for n in range(1, BURST + 1):
        await ann.send(f"are you there? {n}")
        if n == BURST // 2:
            await bob.send("/start")  # another customer, in the middle of the burst
    welcome = await bob.wait_for("Hello, Bob", timeout=120)
    assert welcome is not None

    await wait_until_true(
        lambda: _all_handled(database_url, ann.id, handled_before + BURST), "the burst to be handled", timeout=180
    )
    await wait_outbox_settled(database_url, timeout=120)
    answers = ann.messages[before:]
    slow_downs = [m for m in answers if "Please slow down" in m.content]
    assert len(slow_downs) == 1, [m.content[:60] for m in answers]
    assert len(answers) <= LIMIT + 1, [m.content[:60] for m in answers]  # a handful for 120 messages

    digest = await staff.wait_for("🌊", timeout=180)  # when the minute after the first held one ends
    held = int(re.search(r"sent (\d+) messages", digest.content).group(1))
    assert number in digest.content and held >= BURST - LIMIT and f"are you there? {BURST}" not in digest.content
    relayed = [m for m in staff.messages if "are you there?" in m.content and "🌊" not in m.content]
    assert len(relayed) <= LIMIT  # never one by one
    assert bot_api.flood.refusals == []


async def _all_handled(database_url: str, chat_id: int, expected: int) -> bool:
    return await handled_updates(database_url, chat_id) >= expected


async def test_a_customer_with_ten_open_tickets_is_refused_with_their_numbers(bot_api, bot_factory):
    database_url = bot_factory.default_database_url
    bot_factory.workdir.mkdir(parents=True, exist_ok=True)
    done = await bot_factory.arun_cli(["migrate"])
    assert done.returncode == 0, done.stderr
    numbers = await _open_tickets(database_url, 5201, 10)  # opened earlier (the walk itself is tested elsewhere)
    await bot_factory.start()
    carol = bot_api.user(5201, "Carol", language_code="en")
    await carol.send("/new")
    refusal = await carol.wait_for("limit of open requests (10)", timeout=60)
    assert all(number in refusal.content for number in numbers), refusal.content
    await carol.send("My laptop does not start any more")  # a free message: which ticket, or a new request?
    chooser = await carol.wait_for("Which one is this message about", timeout=60)
    await carol.press(chooser, chooser.buttons[-1])
    again = await carol.wait_for("limit of open requests (10)", timeout=60)
    assert "What happened" not in again.content and NUMBER.search(again.content)


async def _open_tickets(database_url: str, user_id: int, count: int) -> list[str]:
    policy = DeskPolicy()
    db = Database(database_url)
    try:
        numbers = []
        async with db.session() as session:
            customer = await ensure_customer(session, Person(user_id=user_id, chat_id=user_id, first_name="Carol"))
        for n in range(count):
            async with db.session() as session:
                classification = tickets.Classification(
                    Category.HARDWARE.ticket_type, Category.HARDWARE, Priority.P3, Impact.INDIVIDUAL,
                    Urgency.DEGRADED, 0.9, "hardware; person; degraded → P3",
                )  # fmt: skip
                new = tickets.NewTicket(description=f"Monitor {n} flickers", classification=classification)
                numbers.append((await tickets.register(session, customer, new, policy, post_card=False)).number)
        return numbers
    finally:
        await db.dispose()


def route_all_to(proxy: RoundRobinProxy, backend: int) -> None:
    """The balancer sends every request to one backend (the other is still running)."""
    proxy._next = itertools.cycle([backend])


@pytest.mark.postgres
@pytest.mark.timeout(300)
async def test_two_webhook_processes_on_postgresql_count_one_customer_together(
    bot_api, bot_factory, postgres_database_url
):
    """Two webhook processes on PostgreSQL: the balancer hands the start of a customer's burst to the first,
    the rest to the second. The count is the database's, so the second holds what is beyond the limit
    for both together; a count in each process's memory would answer another handful."""
    ports = [free_port(), free_port()]
    proxy = await RoundRobinProxy([f"http://127.0.0.1:{p}{PATH}" for p in ports]).start()
    try:
        env = {
            "WEBHOOK_URL": proxy.url, "WEBHOOK_SECRET": SECRET, "WEBHOOK_HOST": "127.0.0.1", "WEBHOOK_PATH": PATH,
            "FLOOD_MESSAGES_PER_MINUTE": str(LIMIT), "OUTBOX_PRIVATE_INTERVAL": "50ms",
        }  # fmt: skip
        procs = [
            bot_factory(postgres_database_url, {**env, "WEBHOOK_PORT": str(port)}, name=f"bot-{n}")
            for n, port in enumerate(ports)
        ]
        for proc in procs:
            proc.start()
        for proc, port in zip(procs, ports, strict=True):
            await wait_healthy(proc, port)
        dana = bot_api.user(5301, "Dana", language_code="en", started=True)
        early = LIMIT - 2
        route_all_to(proxy, 0)
        for n in range(1, early + 1):
            await dana.send(f"/help {n}")
        await wait_until_true(lambda: _all_handled(postgres_database_url, dana.id, early), "the first part", 60)
        route_all_to(proxy, 1)
        for n in range(early + 1, 41):
            await dana.send(f"/help {n}")
        await wait_until_true(
            lambda: _all_handled(postgres_database_url, dana.id, 40), "the burst to be handled", timeout=180
        )
        await wait_outbox_settled(postgres_database_url, timeout=120)
        digest = await bot_factory.staff.wait_for("Dana (no open ticket) sent", timeout=180)
    finally:
        await proxy.stop()
    handled_by = [len(re.findall(rf"chat={dana.id} kind=message outcome=\w+", p.log_text())) for p in procs]
    assert handled_by[0] >= early and handled_by[1] >= 1 and sum(handled_by) == 40, handled_by
    answers = dana.messages
    assert sum("Please slow down" in m.content for m in answers) == 1, [m.content[:50] for m in answers]
    assert len(answers) == LIMIT + 1, [m.content[:50] for m in answers]  # the limit's answers, then one "slow down"
    held = int(re.search(r"sent (\d+) messages", digest.content).group(1))
    assert held == 40 - LIMIT and "/help 40" not in digest.content  # the first 15 listed

"""Scale-out: two bot processes on one PostgreSQL database behind a round-robin load balancer.

Telegram (the stand-in) delivers updates by webhook to a tiny load balancer in the test, which sends
each request to the next of the two webhook servers — the way nginx or a cloud balancer would. Many
customers go through the intake at once, and one process is SIGKILLed midway. Afterwards: exactly one
ticket per intake, numbers unique and gap-free, every message delivered (and, apart from the sends that
were in flight at the moment of the kill, delivered once), nothing left in the inbox or the outbox.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import socket
import time
from collections import Counter
from dataclasses import dataclass, field

import aiohttp
import pytest
from aiohttp import web
from sqlmodel import col, select

from helpdesk import outbox
from storage.db import Database
from storage.models import Customer, InboxUpdate, OutboxMessage, Ticket
from tests.support.botapi import MESSAGE_METHODS
from tests.support.intake import NUMBER, run_intake

pytestmark = [pytest.mark.postgres, pytest.mark.e2e]

SECRET = "multi_process_secret_0123456789"
PATH = "/telegram/webhook"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class RoundRobinProxy:
    """A load balancer: each POST goes to the next backend; a refused connection tries the one after.

    A request cut off mid-way (the backend died while handling it) is answered 502, as a proxy does
    for a non-idempotent POST: Telegram then delivers the update again.
    """

    backends: list[str]
    port: int = field(default_factory=free_port)
    served: Counter[str] = field(default_factory=Counter)
    failed: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self._next = itertools.cycle(range(len(self.backends)))
        self._runner: web.AppRunner | None = None
        self._http: aiohttp.ClientSession | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{PATH}"

    async def start(self) -> RoundRobinProxy:
        self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        app = web.Application()
        app.router.add_post(PATH, self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._http is not None:
            await self._http.close()

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        headers = {
            k: v for k, v in request.headers.items() if k.lower() in ("content-type", "x-telegram-bot-api-secret-token")
        }
        assert self._http is not None
        for _ in range(len(self.backends)):
            backend = self.backends[next(self._next)]
            try:
                async with self._http.post(backend, data=body, headers=headers) as resp:
                    answer = await resp.read()
                    self.served[backend] += 1
                    return web.Response(status=resp.status, body=answer)
            except aiohttp.ClientConnectorError:
                self.failed[backend] += 1
                continue  # nobody listens there: try the next one
            except (aiohttp.ClientError, TimeoutError):
                self.failed[backend] += 1
                return web.Response(status=502, text="backend went away")
        return web.Response(status=502, text="no backend")


async def wait_healthy(proc, port: int, timeout: float = 60.0) -> None:
    """Until the process answers /healthz on its webhook port (it is then listening for updates)."""
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as http:
        while True:
            try:
                async with http.get(f"http://127.0.0.1:{port}/healthz") as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            assert proc.running and time.monotonic() < deadline, proc.diagnostic()
            await asyncio.sleep(0.1)


DESCRIPTIONS = [
    "The printer on floor {n} is jammed and prints nothing",
    "I cannot log in to the VPN since this morning, error {n}",
    "Please give me access to the finance share for project {n}",
    "Outlook crashes every time I open an attachment, laptop {n}",
    "Need a new monitor for the desk {n} in room 4",
    "Wi-Fi in meeting room {n} keeps dropping every few minutes",
]


async def database_state(url: str):
    db = Database(url)
    try:
        async with db.read() as session:
            tickets = (await session.exec(select(Ticket).order_by(col(Ticket.seq)))).all()
            customers = {c.id: c.telegram_id for c in (await session.exec(select(Customer))).all()}
            outbox = (await session.exec(select(OutboxMessage))).all()
            inbox = (await session.exec(select(InboxUpdate))).all()
        return tickets, customers, outbox, inbox
    finally:
        await db.dispose()


async def in_flight(url: str) -> list[OutboxMessage]:
    """Outbox rows claimed and not finished: a send of these may have reached Telegram unrecorded."""
    db = Database(url)
    try:
        async with db.read() as session:
            stmt = select(OutboxMessage).where(
                OutboxMessage.status == "pending", col(OutboxMessage.locked_until).is_not(None)
            )
            return list((await session.exec(stmt)).all())
    finally:
        await db.dispose()


async def wait_outbox_empty(url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        _t, _c, outbox, inbox = await database_state(url)
        pending = [r for r in outbox if r.status == "pending"] + [u for u in inbox if u.status == "pending"]
        if not pending or time.monotonic() > deadline:
            return
        await asyncio.sleep(0.5)


@pytest.mark.timeout(400)
async def test_two_processes_share_the_work_and_survive_a_kill(bot_api, bot_factory, postgres_database_url):
    customers = 24
    ports = [free_port(), free_port()]
    proxy = await RoundRobinProxy([f"http://127.0.0.1:{p}{PATH}" for p in ports]).start()
    try:
        env = {
            "WEBHOOK_URL": proxy.url,
            "WEBHOOK_SECRET": SECRET,
            "WEBHOOK_HOST": "127.0.0.1",
            "WEBHOOK_PATH": PATH,
            "OUTBOX_PRIVATE_INTERVAL": "50ms",
        }
        first = bot_factory(postgres_database_url, {**env, "WEBHOOK_PORT": str(ports[0])}, name="bot-a")
        second = bot_factory(postgres_database_url, {**env, "WEBHOOK_PORT": str(ports[1])}, name="bot-b")
        first.start()
        second.start()  # both migrate at once: the advisory lock makes them take turns
        for proc, port in ((first, ports[0]), (second, ports[1])):
            await wait_healthy(proc, port)

        users = [bot_api.user(10_000 + n, f"Customer{n}", language_code="en") for n in range(customers)]
        tasks = [
            asyncio.create_task(run_intake(u, DESCRIPTIONS[n % len(DESCRIPTIONS)].format(n=n), 240, delay=n * 0.1))
            for n, u in enumerate(users)
        ]

        # kill one process midway: when about a third of the updates (~7 per intake) went through
        deadline = time.monotonic() + 120
        while sum(proxy.served.values()) < customers * 7 // 3 and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.02)
        assert sum(t.done() for t in tasks) < customers // 2, "the kill came too late to matter"
        served_before_kill = dict(proxy.served)
        first.kill()
        ambiguous = await in_flight(postgres_database_url)
        numbers = await asyncio.gather(*tasks)

        # the survivor delivers what the dead one had claimed (after its lease) and the staff cards
        await wait_outbox_empty(postgres_database_url, timeout=120)
        tickets, customer_ids, outbox, inbox = await database_state(postgres_database_url)
    finally:
        await proxy.stop()

    # both processes did work before the kill, and the balancer spread it
    assert all(served_before_kill.get(b, 0) > 0 for b in proxy.backends), served_before_kill
    assert second.running, second.diagnostic()

    # exactly one ticket per intake; numbers unique and without gaps (a killed transaction gives its number back)
    assert len(tickets) == customers
    owners = Counter(customer_ids[t.customer_id] for t in tickets)
    assert set(owners) == {u.id for u in users} and set(owners.values()) == {1}
    assert sorted(numbers) == sorted(t.number for t in tickets)
    assert [t.seq for t in tickets] == list(range(1, customers + 1))
    assert len({t.number for t in tickets}) == customers

    # everything handled and sent; nothing parked or given up
    assert {u.status for u in inbox} == {"done"}, Counter(u.status for u in inbox)
    assert {r.status for r in outbox} <= {"sent", "dropped"}, Counter(r.status for r in outbox)
    assert set(bot_api.delivered_update_ids) <= {u.update_id for u in inbox}

    # every customer was told once and every ticket has one card in the staff chat, except that a send in
    # flight when the process died may have reached Telegram unrecorded (the Bot API has no idempotency key)
    unknown = Counter(r.chat_id for r in ambiguous if r.method in MESSAGE_METHODS)
    for user in users:
        registered = [m for m in user.messages if "Registered" in (m.content or "")]
        assert 1 <= len(registered) <= 1 + unknown[user.id], user.chat.history_text()
    staff = bot_api.chat(bot_factory.staff_chat_id)
    cards = Counter(
        NUMBER.search(m.content).group(0)
        for m in staff.bot_messages
        if "ag:det:" in str(m.data.get("reply_markup") or "") and NUMBER.search(m.content or "")  # a card
    )
    assert set(cards) == {t.number for t in tickets}
    assert sum(cards.values()) <= len(tickets) + unknown[bot_factory.staff_chat_id], cards

    # no message twice: per chat, the messages Telegram got equal the outbox rows sent, except for rows
    # whose send was in flight when the process died (their outcome was unknowable)
    sent_rows = Counter(r.chat_id for r in outbox if r.status == "sent" and r.method in MESSAGE_METHODS)
    duplicates = 0
    for chat_id in set(sent_rows) | {u.id for u in users} | {bot_factory.staff_chat_id}:
        got = len(bot_api.chat(chat_id).bot_messages)
        extra = got - sent_rows[chat_id]
        assert 0 <= extra <= unknown[chat_id], (chat_id, got, sent_rows[chat_id], unknown[chat_id])
        duplicates += extra
    print(
        f"\nserved before the kill: {served_before_kill}; after: {dict(proxy.served)}; refused: {dict(proxy.failed)}; "
        f"in flight at the kill: {len(ambiguous)}; duplicates: {duplicates}"
    )


async def sent_by(port: int) -> float:
    """Messages this process delivered (its /metrics on the webhook port)."""
    async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}/metrics") as resp:
        text = await resp.text()
    found = re.findall(r'^helpdesk_outbox_sent_total\{method="sendMessage"\} (\S+)$', text, re.MULTILINE)
    return float(found[0]) if found else 0.0


@pytest.mark.timeout(300)
async def test_two_processes_keep_telegrams_rate_together(bot_api, bot_factory, postgres_database_url):
    """Two bot processes with the default OUTBOX_RATE_PER_SECOND (30, the deployment's figure) and a
    burst of notifications more than either could send alone: both send, and together they stay within
    Telegram's 30 a second, as the stand-in counts it (it refuses with 429 what goes over; any refusal
    fails the test). With a limiter per process the two would send 60 a second and be refused."""
    ports = [free_port(), free_port()]
    proxy = await RoundRobinProxy([f"http://127.0.0.1:{p}{PATH}" for p in ports]).start()
    try:
        env = {"WEBHOOK_URL": proxy.url, "WEBHOOK_SECRET": SECRET, "WEBHOOK_HOST": "127.0.0.1", "WEBHOOK_PATH": PATH}
        procs = [
            bot_factory(postgres_database_url, {**env, "WEBHOOK_PORT": str(port)}, name=f"bot-{n}")
            for n, port in enumerate(ports)
        ]
        for proc in procs:
            proc.start()
        for proc, port in zip(procs, ports, strict=True):
            await wait_healthy(proc, port)
        # three messages each to 150 customers: more chats than a process claims at once (300 rows), so
        # each process holds over 30 chats' worth, each chat one message a second
        readers = [bot_api.user(40_000 + n, f"Reader{n}", language_code="en", started=True) for n in range(150)]
        db = Database(postgres_database_url)
        try:
            async with db.session() as session:
                for reader in readers:
                    for n in range(3):
                        outbox.send_text(session, reader.id, f"Maintenance notice {n + 1} for you, {reader.id}")
        finally:
            await db.dispose()
        await wait_outbox_empty(postgres_database_url, timeout=180)
        sent = [await sent_by(port) for port in ports]
    finally:
        await proxy.stop()
    assert bot_api.flood.refusals == []  # Telegram's limits held by the two together
    assert all(sent) and sum(sent) == 450, sent  # both processes sent
    for reader in readers:
        assert [m.content for m in reader.messages] == [
            f"Maintenance notice {n + 1} for you, {reader.id}" for n in range(3)
        ]

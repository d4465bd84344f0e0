"""Crash safety: many customers talk to the bot while it is killed with SIGKILL again and again.

Sixteen customers go through the whole intake at once (typing some answers, pressing buttons for the
others) while a chaos task kills the real bot process at random moments (seeded: the run reproduces)
and starts it again. An agent answers every registered ticket with `/reply N text`. At the end:
- every customer who confirmed has exactly one ticket, and every answer given at any step is on it;
- every agent reply exists once in the database (one event, one outbox row) and reached its customer;
  a second copy in the chat is only allowed for a send whose outcome was unknown (the process died
  between the call and its record): those are counted from the bot's log and reported, never hidden;
- no update was parked, none is left pending, Telegram has nothing unconfirmed.
"""

from __future__ import annotations

import asyncio
import random
import re
import time
from collections import Counter

import pytest
from sqlmodel import select

from helpdesk.i18n import t
from helpdesk.vocabulary import Impact, Urgency
from storage.db import Database
from storage.models import Customer, InboxUpdate, OutboxMessage, Ticket, TicketEvent

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(180)]

SEED = 20261123
CUSTOMERS = 16
KILLS = 9
NUMBER = re.compile(r"\b(?:INC|REQ)-\d{6}\b")
ENV = {
    "OUTBOX_PRIVATE_INTERVAL": "20ms",
    "OUTBOX_POLL_EVERY": "100ms",
    "POLL_TIMEOUT": "1",
    "LOG_LEVEL": "INFO",
}
WAIT = 60.0  # a customer waits this long for each answer (the bot may be down meanwhile)


class Customer_:
    """One scripted customer; acts on each new prompt, ignoring repeated copies of one it answered."""

    def __init__(self, api, user, index: int, rng: random.Random) -> None:
        self.api, self.user, self.i = api, user, index
        self.description = f"The printer number {index} in room {100 + index} is jammed and prints nothing"
        self.service = f"Plotter-{index}"
        self.impact = list(Impact)[rng.randrange(len(Impact))]
        self.urgency = list(Urgency)[rng.randrange(len(Urgency))]
        self.contact = f"ext. {4000 + index}"
        self.number: str | None = None
        self.handled: set[tuple] = set()
        self.log: list[str] = []

    def _identity(self, msg) -> tuple:
        data = tuple(b.get("callback_data", "") for row in msg.inline_keyboard for b in row)
        return (msg.content, data)

    async def _next_prompt(self):
        deadline = time.monotonic() + WAIT
        while True:
            fresh = [m for m in self.user.unseen() if self._identity(m) not in self.handled]
            for m in self.user.unseen():
                self.user._seen.add(m.id)
            if fresh:
                return fresh[-1]
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"customer {self.i} waited {WAIT}s; steps: {self.log}\n{self.user.chat.history_text()}"
                )
            await self.api.wait_changed(0.25)

    async def run(self) -> None:
        await self.user.send(self.description)
        while self.number is None:
            msg = await self._next_prompt()
            self.handled.add(self._identity(msg))
            text = msg.content
            self.log.append(text[:30])
            if "Registered:" in text:
                self.number = NUMBER.search(text).group(0)
            elif "Which service" in text or "What is your request about" in text:
                await self.user.send(self.service)
            elif "Is something broken" in text:
                await self.user.press(msg, t("en", "button.broken"))
            elif "Who is affected?" in text:
                await self.user.press(msg, t("en", f"impact.{self.impact}"))
            elif "How much does it block" in text:
                await self.user.press(msg, t("en", f"urgency.{self.urgency}"))
            elif "How urgent is it" in text:
                await self.user.press(msg, t("en", f"urgency_request.{self.urgency}"))
            elif "screenshots" in text:
                await self.user.press(msg, t("en", "button.skip"))
            elif "call back" in text:
                await self.user.send(self.contact)
            elif "Please check your request" in text:
                for given in (self.service, self.contact):
                    assert given in text, f"customer {self.i}: {given!r} missing from the summary:\n{text}"
                await self.user.press(msg, t("en", "button.confirm"))
            else:
                raise AssertionError(f"customer {self.i}: unexpected message {text!r}; steps {self.log}")


# a card edit whose answer a kill cut off is sent again (its outcome is unknown): Telegram then says the card
# already reads so, which the bot takes as done; a button pressed while the bot was down is answered after
# the restart, later than Telegram keeps the query open (the press itself is kept)
@pytest.mark.refusals(
    "editMessageText 400 Bad Request: message is not modified", "answerCallbackQuery 400 Bad Request: query is too old"
)
async def test_sigkill_at_random_moments_loses_nothing_and_doubles_nothing(bot_api, bot_factory, tmp_path):
    rng = random.Random(SEED)
    url = f"sqlite+aiosqlite:///{tmp_path / 'crash.db'}"
    bot = await bot_factory.start(url, env=ENV, name="crashbot")
    agent = bot_api.user(7001)
    customers = [
        Customer_(bot_api, bot_api.user(20_000 + i, f"Cust{i}", language_code="en"), i, rng) for i in range(CUSTOMERS)
    ]
    replies: dict[str, str] = {}  # reply marker -> ticket number
    kills: list[float] = []

    async def customer_life(c: Customer_) -> None:
        await asyncio.sleep(c.i * 0.35)  # arrivals spread over the chaos
        await c.run()
        marker = f"Reply-{c.i}-{rng.randrange(10**6):06d}"
        replies[marker] = c.number
        await agent.send(f"/reply {c.number} Hello, {marker}: please restart the printer")
        await c.user.wait_for(marker, timeout=WAIT)

    async def chaos() -> None:
        nonlocal bot
        for n in range(KILLS):
            await asyncio.sleep(rng.uniform(0.3, 2.0))
            bot.kill()
            kills.append(time.monotonic())
            await asyncio.sleep(rng.uniform(0.0, 0.3))
            bot.start()
            if n < KILLS - 1 and rng.random() < 0.3:
                await asyncio.sleep(rng.uniform(0.2, 2.0))  # the next kill lands while it is starting up
                continue
            await bot.wait_ready(bot_api, 60)
        await bot.wait_ready(bot_api, 60)

    started = time.monotonic()
    chaos_task = asyncio.create_task(chaos())
    results = await asyncio.gather(*(customer_life(c) for c in customers), return_exceptions=True)
    await chaos_task
    failures = [r for r in results if isinstance(r, BaseException)]
    if failures:
        raise failures[0]
    await bot_api.wait_quiet(1.5, timeout=60)
    bot.kill()  # one more crash; everything is delivered, so nothing may change by it
    elapsed = time.monotonic() - started

    # -- the database ---------------------------------------------------------------------------------
    db = Database(url)
    try:
        async with db.read() as s:
            tickets = (await s.exec(select(Ticket, Customer).where(Ticket.customer_id == Customer.id))).all()
            inbox = Counter((await s.exec(select(InboxUpdate.status))).all())
            events = (await s.exec(select(TicketEvent).where(TicketEvent.kind == "reply"))).all()
            outbox = (await s.exec(select(OutboxMessage))).all()
    finally:
        await db.dispose()

    by_customer: dict[int, list[Ticket]] = {}
    for ticket, customer in tickets:
        by_customer.setdefault(customer.telegram_id, []).append(ticket)
    for c in customers:
        mine = by_customer.get(c.user.id, [])
        assert len(mine) == 1, f"customer {c.i} has {len(mine)} tickets: {[x.number for x in mine]}"
        ticket = mine[0]
        assert ticket.number == c.number
        assert ticket.description == c.description
        assert ticket.service == c.service
        assert ticket.contact == c.contact
        if ticket.category not in ("consultation", "information"):
            assert ticket.impact == c.impact.value, (c.i, ticket.impact, c.impact)
            assert ticket.urgency == c.urgency.value, (c.i, ticket.urgency, c.urgency)
    assert len(tickets) == CUSTOMERS
    assert set(inbox) <= {"done"}, f"inbox left with {dict(inbox)}"

    # -- what the customers saw ---------------------------------------------------------------------------
    log = bot.log_text()
    unknown = len(re.findall(r"outcome of attempt \d+ unknown", log))
    duplicates = bot_api.duplicate_sends()
    extra_copies = sum(n - 1 for _, _, n in duplicates)
    registered_copies = Counter()
    for c in customers:
        registered_copies[c.i] = sum(1 for m in c.user.messages if "Registered:" in m.content)
    reply_copies: dict[str, int] = {}
    for marker, number in replies.items():
        c = next(c for c in customers if c.number == number)
        reply_copies[marker] = sum(1 for m in c.user.messages if marker in m.content)
        rows = [o for o in outbox if o.chat_id == c.user.id and marker in str(o.payload.get("text", ""))]
        assert len(rows) == 1, f"{marker}: {len(rows)} outbox rows for the customer"
        assert rows[0].status == "sent", rows[0]
        assert sum(1 for e in events if marker in (e.note or "")) == 1, f"{marker}: not exactly one reply event"
        assert reply_copies[marker] >= 1, f"{marker} never reached the customer"
    print(
        f"\ncrash test: {CUSTOMERS} customers, {len(kills)} SIGKILLs, {bot.starts} starts, {elapsed:.1f}s; "
        f"agent replies: {len(replies)}; "
        f"unknown-outcome sends (died between call and record): {unknown}; "
        f"messages seen twice: {extra_copies} {duplicates[:5]}"
    )
    assert all(n >= 1 for n in registered_copies.values())
    # a second copy of any message is only acceptable where the bot could not know the first arrived
    assert extra_copies <= unknown, f"{extra_copies} repeated messages but only {unknown} unknown outcomes"
    assert "outcome=parked" not in log and "Traceback" not in log, bot.log_tail(60)
    assert not bot_api.pending_updates
    assert len(kills) == KILLS

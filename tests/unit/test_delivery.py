"""Outbox delivery against an in-process fake transport: order, exactly once, limits, failures, splitting.

The fake records every call with its time and can answer with any error the transport maps Telegram's
answers to (429 → RetryLater, 5xx/network → Transient, 403 → Unreachable, 400 → Rejected).
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session
from sqlmodel import func, select

import scheduler.delivery.sender as sender_module
from helpdesk import outbox
from helpdesk.clock import now_utc
from scheduler.delivery import (
    CAPTION_LIMIT,
    TEXT_LIMIT,
    DeliveryLimits,
    OutboxDelivery,
    utf16_len,
)
from scheduler.delivery.transport import Rejected, RetryLater, Transient, Unreachable
from storage.db import Database
from storage.models import Customer, MessageLink, OutboxMessage, Ticket
from storage.outbox_rows import bell
from tests.support.flood import FloodControl, FloodLimits
from tests.unit import desk
from tests.unit.desk import STAFF

FAST = DeliveryLimits(per_second=1000, private_interval=0.02, group_per_minute=1000, poll_every=0.05, max_attempts=4)
Rule = Callable[[str, dict[str, Any], int], Exception | None]


class FakeTransport:
    """Records calls; `before` rules fail a call without effect, `after` rules fail it after it took effect."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any], float]] = []
        self.delivered: dict[int, list[str]] = defaultdict(list)
        self.before: list[Rule] = []
        self.after: list[Rule] = []
        self._ids = itertools.count(1)

    async def call(self, method: str, payload: dict[str, Any]) -> Any:
        n = len(self.calls)
        self.calls.append((method, dict(payload), time.monotonic()))
        await asyncio.sleep(0)
        for rule in self.before:
            if (exc := rule(method, payload, n)) is not None:
                raise exc
        self.delivered[payload["chat_id"]].append(payload.get("text") or payload.get("caption") or method)
        for rule in self.after:
            if (exc := rule(method, payload, n)) is not None:
                raise exc
        if method == "createForumTopic":
            return {"message_thread_id": 77, "name": payload["name"]}
        if method.startswith("edit"):
            return {"message_id": payload.get("message_id"), "chat": {"id": payload["chat_id"]}, "text": "x"}
        return {"message_id": next(self._ids), "chat": {"id": payload["chat_id"]}}

    def to(self, chat_id: int) -> list[tuple[str, dict[str, Any], float]]:
        return [c for c in self.calls if c[1].get("chat_id") == chat_id]


class SimulatedCrash(BaseException):
    """The process dies here (not an Exception: nothing in the sender may catch it)."""


@pytest.fixture(autouse=True)
def _fast(monkeypatch: pytest.MonkeyPatch) -> None:
    bell.reset()
    monkeypatch.setattr(sender_module, "backoff", lambda attempt: timedelta(milliseconds=30))


@pytest.fixture
async def db(sqlite_database_url: str) -> AsyncIterator[Database]:
    database = await desk.migrated(sqlite_database_url)
    yield database
    await database.dispose()


@pytest.fixture
async def any_db(database_url: str) -> AsyncIterator[Database]:
    database = await desk.migrated(database_url)
    yield database
    await database.dispose()


async def queue(db: Database, chat_id: int, text: str, **kw: Any) -> int:
    async with db.session() as session:
        outbox.send_text(session, chat_id, text, **kw)
        return await last_outbox_id(session)


async def last_outbox_id(session: Any) -> int:
    """The id of the row just queued (written now: rows are queued until the next query or the commit)."""
    return int((await session.exec(select(func.max(OutboxMessage.id)))).one())


async def row(db: Database, row_id: int) -> OutboxMessage:
    async with db.read() as session:
        return await session.get(OutboxMessage, row_id)


def sender(db: Database, transport: FakeTransport, limits: DeliveryLimits = FAST, **kw: Any) -> OutboxDelivery:
    return desk.delivery(db, transport, limits, **kw)


async def ticket_with_card(db: Database, user_id: int = 501) -> tuple[int, FakeTransport]:
    """A registered ticket whose card was delivered (so card edits and replies have a target)."""
    tid = await desk.new_ticket(db, desk.POLICY, user_id)
    transport = FakeTransport()
    await sender(db, transport).drain(until_empty=True)
    assert (await desk.ticket(db, tid)).staff_message_id is not None
    return tid, transport


# -- order and exactly once ------------------------------------------------------------------------------


async def test_all_delivered_once_in_order_through_429_and_5xx(any_db: Database) -> None:
    db = any_db
    transport = FakeTransport()
    transport.before.append(lambda m, p, n: RetryLater(0.05) if n % 3 == 2 else None)
    transport.before.append(lambda m, p, n: Transient("Bad Gateway") if n % 7 == 6 else None)
    expected: dict[int, list[str]] = {}
    for chat in range(1, 21):
        expected[chat] = [f"chat {chat} message {i}" for i in range(8)]
    for i in range(8):  # interleaved, as real traffic is
        for chat in expected:
            await queue(db, chat, expected[chat][i])
    delivery = sender(db, transport, DeliveryLimits(per_second=2000, private_interval=0.01, poll_every=0.05))
    await delivery.drain(timeout=60, until_empty=True)
    assert dict(transport.delivered) == expected
    assert delivery.stats.sent == 160 and delivery.stats.retried_429 > 0 and delivery.stats.retried_transient > 0
    assert delivery.stats.unknown_outcome == 0
    async with db.read() as session:
        statuses = set((await session.exec(select(OutboxMessage.status))).all())
    assert statuses == {"sent"}


async def test_retry_after_holds_the_chat_and_its_later_rows(db: Database) -> None:
    transport = FakeTransport()
    transport.before.append(lambda m, p, n: RetryLater(3600) if p.get("text") == "A1" and n == 0 else None)
    for text in ("A1", "A2", "A3"):
        await queue(db, 1001, text)
    await queue(db, 1002, "B1")
    await sender(db, transport).drain(timeout=10)  # everything due now
    assert [c[1]["text"] for c in transport.to(1001)] == ["A1"]  # told to wait an hour: A2, A3 wait behind it
    assert transport.delivered[1002] == ["B1"]  # other chats were not held up
    held = await row(db, 1)
    assert held.status == "pending" and held.attempts == 0  # a 429 is not a failed attempt
    assert held.next_attempt_at - now_utc() > timedelta(minutes=59)  # retry_after respected
    async with db.session() as session:  # an hour later (a new process: nothing remembered in memory)
        (await session.get(OutboxMessage, 1)).next_attempt_at = now_utc()
    await sender(db, transport).drain(timeout=10, until_empty=True)
    assert transport.delivered[1001] == ["A1", "A2", "A3"]
    assert (await row(db, 1)).attempts == 1


async def test_an_older_row_in_backoff_blocks_the_later_ones(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sender_module, "backoff", lambda attempt: timedelta(milliseconds=400))
    transport = FakeTransport()
    fails = iter([True])
    transport.before.append(
        lambda m, p, n: Transient("Bad Gateway") if p["text"] == "first" and next(fails, False) else None
    )
    await queue(db, 1001, "first")
    await queue(db, 1001, "second")
    delivery = sender(db, transport)
    await delivery.drain(timeout=10)  # the first failed: the second must not overtake it
    assert transport.delivered[1001] == []
    await delivery.drain(timeout=10, until_empty=True)
    assert transport.delivered[1001] == ["first", "second"]


async def test_ordinary_rows_are_begun_and_recorded_without_orm_objects(any_db: Database) -> None:
    """Replies and /status answers (linked to their ticket) are begun and recorded in plain SQL: no row is
    loaded as an ORM object (that cost several times the statements), and what is written is the same:
    sent, Telegram's message id, released, no in-flight mark left, the link to the ticket recorded."""
    db = any_db
    tid, transport = await ticket_with_card(db)
    async with db.session() as session:
        for i in range(3):
            outbox.send_text(session, 501, f"reply {i}")
        outbox.send_text(session, 501, "status", ticket_id=tid, link_kind="status")
        first = await last_outbox_id(session) - 3
    loaded: list[Any] = []

    def count(_session: Any, instance: Any) -> None:
        if isinstance(instance, OutboxMessage):
            loaded.append(instance)

    event.listen(Session, "loaded_as_persistent", count)
    try:
        await sender(db, transport).drain(until_empty=True)
    finally:
        event.remove(Session, "loaded_as_persistent", count)
    assert transport.delivered[501][-4:] == ["reply 0", "reply 1", "reply 2", "status"]
    assert loaded == []
    async with db.read() as session:
        rows = (await session.exec(select(OutboxMessage).where(OutboxMessage.id >= first))).all()
        links = (await session.exec(select(MessageLink).where(MessageLink.kind == "status"))).all()
    assert [(r.status, r.attempts, r.locked_by, r.locked_until) for r in rows] == [("sent", 1, None, None)] * 4
    assert all(r.result_message_id and r.sent_at and set(r.payload) == {"chat_id", "text", "parse_mode"} for r in rows)
    assert [(link.chat_id, link.message_id, link.ticket_id) for link in links] == [
        (501, rows[-1].result_message_id, tid)
    ]


async def test_two_workers_share_the_outbox(any_db: Database, database_url: str) -> None:
    """Two processes on one database: each row once, per-chat order kept (PostgreSQL row locks)."""
    if any_db.is_sqlite:
        pytest.skip("SQLite is one process by design; several processes share PostgreSQL")
    other = Database(database_url)
    try:
        transport = FakeTransport()
        transport.before.append(lambda m, p, n: RetryLater(0.05) if n % 5 == 4 else None)
        for i in range(6):
            for chat in range(1, 31):
                await queue(any_db, chat, f"{chat}:{i}")
        limits = DeliveryLimits(
            per_second=2000, private_interval=0.01, poll_every=0.05, claim_batch=40, per_chat_batch=2
        )
        a, b = sender(any_db, transport, limits), sender(other, transport, limits)
        await asyncio.gather(a.drain(timeout=60, until_empty=True), b.drain(timeout=60, until_empty=True))
        wrong = {c: t for c, t in transport.delivered.items() if t != [f"{c}:{i}" for i in range(6)]}
        assert not wrong, wrong
        assert sum(map(len, transport.delivered.values())) == 180
        assert a.stats.sent + b.stats.sent == 180 and a.stats.sent and b.stats.sent
    finally:
        await other.dispose()


async def test_a_lost_lease_is_never_sent(db: Database) -> None:
    transport = FakeTransport()
    row_id = await queue(db, 1001, "hello")
    delivery = sender(db, transport)
    claimed = await delivery._claim()
    assert claimed == [(row_id, 1001)]
    async with db.session() as session:  # the lease ran out and another process took the row
        taken = await session.get(OutboxMessage, row_id)
        taken.locked_by = "someone-else"
        session.add(taken)
    assert await delivery._send_row(row_id, 1001) is True
    assert transport.calls == []


# -- what cannot be known is counted -------------------------------------------------------------------


async def test_crash_between_send_and_record_is_counted_not_hidden(any_db: Database, database_url: str) -> None:
    db = any_db
    tid, _ = await ticket_with_card(db)
    transport = FakeTransport()
    row_id = await queue(db, 501, "Your answer", ticket_id=tid, link_kind="to_customer")
    crashing = sender(db, transport, DeliveryLimits(**{**FAST.__dict__, "lease": 0.3}))

    async def crash(*args: Any, **kw: Any) -> None:
        raise SimulatedCrash

    crashing._succeeded = crash  # type: ignore[method-assign]
    await crashing.drain(timeout=5)
    assert transport.delivered[501] == ["Your answer"]  # Telegram has it, our table does not know
    assert (await row(db, row_id)).status == "pending"

    await asyncio.sleep(0.4)  # PostgreSQL: the dead worker's lease runs out; SQLite: the restart frees it
    restarted_db = Database(database_url)
    try:
        restarted = sender(restarted_db, transport)
        await restarted.drain(timeout=5, until_empty=True)
        assert restarted.stats.unknown_outcome == 1
        assert transport.delivered[501] == ["Your answer", "Your answer"]  # sent again, and said so
        done = await row(db, row_id)
        assert done.status == "sent" and "unknown" in done.last_error and "_inflight" not in done.payload
        (event,) = await desk.events(db, tid, "delivery_uncertain")
        assert event.data["outbox_id"] == row_id and "may see it twice" in event.note
    finally:
        await restarted_db.dispose()


async def test_a_failed_record_of_a_confirmed_send_is_retried_not_resent(db: Database) -> None:
    transport = FakeTransport()
    row_id = await queue(db, 501, "Once")
    delivery = sender(db, transport)
    real = delivery._succeeded
    failures = iter([RuntimeError("database hiccup")])

    async def flaky(*args: Any, **kw: Any) -> None:
        if (exc := next(failures, None)) is not None:
            raise exc
        await real(*args, **kw)

    delivery._succeeded = flaky  # type: ignore[method-assign]
    await delivery.drain(timeout=5, until_empty=True)
    assert transport.delivered[501] == ["Once"]
    assert (await row(db, row_id)).status == "sent" and delivery.stats.unknown_outcome == 0


async def test_a_confirmed_send_that_cannot_be_recorded_is_an_unknown_outcome(db: Database) -> None:
    """Never silently rescheduled as if unsent: the in-flight mark stays until the lease ends."""
    transport = FakeTransport()
    row_id = await queue(db, 501, "Hello")
    broken = sender(db, transport, DeliveryLimits(**{**FAST.__dict__, "lease": 1.5}))

    async def always_fails(*args: Any, **kw: Any) -> None:
        raise RuntimeError("database down")

    broken._succeeded = always_fails  # type: ignore[method-assign]
    await broken.drain(timeout=1)
    stuck = await row(db, row_id)
    assert transport.delivered[501] == ["Hello"]
    assert stuck.status == "pending" and "_inflight" in stuck.payload and stuck.next_attempt_at <= now_utc()
    await asyncio.sleep(1.6)  # the lease runs out
    healthy = sender(db, transport)
    await healthy.drain(timeout=5, until_empty=True)
    assert healthy.stats.unknown_outcome == 1 and transport.delivered[501] == ["Hello", "Hello"]


async def test_a_lost_answer_is_counted(db: Database) -> None:
    tid, _ = await ticket_with_card(db)
    transport = FakeTransport()
    lost = iter([True])
    transport.after.append(lambda m, p, n: Transient("network: Server disconnected") if next(lost, False) else None)
    await queue(db, 501, "Reply from support", ticket_id=tid)
    delivery = sender(db, transport)
    await delivery.drain(timeout=5, until_empty=True)
    assert transport.delivered[501] == ["Reply from support", "Reply from support"]
    assert delivery.stats.unknown_outcome == 1 and delivery.stats.sent == 1
    assert len(await desk.events(db, tid, "delivery_uncertain")) == 1


async def test_a_5xx_answer_is_not_an_unknown_outcome(db: Database) -> None:
    transport = FakeTransport()
    once = iter([True])
    transport.before.append(lambda m, p, n: Transient("Bad Gateway") if next(once, False) else None)
    await queue(db, 501, "x")
    delivery = sender(db, transport)
    await delivery.drain(timeout=5, until_empty=True)
    assert delivery.stats.unknown_outcome == 0 and transport.delivered[501] == ["x"]


# -- failures the staff must hear about ------------------------------------------------------------------


async def test_gives_up_after_max_attempts_and_tells_the_staff(db: Database) -> None:
    tid, _ = await ticket_with_card(db)
    transport = FakeTransport()
    transport.before.append(lambda m, p, n: Transient("Bad Gateway") if p["chat_id"] == 501 else None)
    row_id = await queue(db, 501, "Your ticket is resolved", ticket_id=tid)
    delivery = sender(db, transport)
    await delivery.drain(timeout=10, until_empty=True)
    assert (await row(db, row_id)).status == "failed" and len(transport.to(501)) == FAST.max_attempts
    assert [e.note for e in await desk.events(db, tid, "delivery_failed")] == ["Bad Gateway"]
    edit = [c for c in transport.to(STAFF) if c[0] == "editMessageText"][-1]
    assert "could not be delivered" in edit[1]["text"]


async def test_blocked_customer_is_marked_and_gets_nothing_more(any_db: Database) -> None:
    db = any_db
    tid, _ = await ticket_with_card(db)
    transport = FakeTransport()
    transport.before.append(
        lambda m, p, n: Unreachable("Forbidden: bot was blocked by the user") if p["chat_id"] == 501 else None
    )
    first = await queue(db, 501, "one", ticket_id=tid)
    second = await queue(db, 501, "two", ticket_id=tid)
    delivery = sender(db, transport)
    await delivery.drain(timeout=10, until_empty=True)
    assert len(transport.to(501)) == 1
    assert (await row(db, first)).status == "failed" and (await row(db, second)).status == "dropped"
    customer = await desk.customer_of(db, tid)
    assert customer.unreachable_since is not None
    assert len(await desk.events(db, tid, "customer_unreachable")) == 1
    edit = [c for c in transport.to(STAFF) if c[0] == "editMessageText"][-1]
    assert "blocked the bot" in edit[1]["text"]  # the staff are told on the card
    later = await queue(db, 501, "three", ticket_id=tid)  # something queued afterwards is not sent either
    await delivery.drain(timeout=5, until_empty=True)
    assert len(transport.to(501)) == 1 and (await row(db, later)).status == "dropped"
    assert delivery.stats.unreachable == 1


async def test_a_customer_who_writes_again_is_reachable_again(db: Database) -> None:
    tid, _ = await ticket_with_card(db)
    async with db.session() as session:
        customer = (await session.exec(select(Customer).where(Customer.telegram_id == 501))).one()
        customer.unreachable_since = None  # what ensure_customer does when they write to the bot
        session.add(customer)
    transport = FakeTransport()
    await queue(db, 501, "welcome back", ticket_id=tid)
    await sender(db, transport).drain(until_empty=True)
    assert transport.delivered[501] == ["welcome back"]


# -- long texts and refused markup -----------------------------------------------------------------------


async def test_long_text_is_split_and_a_failed_part_resumes(db: Database) -> None:
    tid, _ = await ticket_with_card(db)
    transport = FakeTransport()
    second_part_fails = iter([True])
    transport.before.append(
        lambda m, p, n: (
            Transient("Bad Gateway") if p["text"].startswith("Part two") and next(second_part_fails, False) else None
        )
    )
    text = "<b>Part one</b> " + "😀 word " * 500 + "\n" + "Part two " + "more " * 900  # 4009 + 4509 UTF-16 units
    row_id = await queue(db, 501, text, ticket_id=tid, link_kind="to_customer", buttons=[[("OK", "m:help")]])
    delivery = sender(db, transport)
    await delivery.drain(timeout=10, until_empty=True)
    sent = transport.delivered[501]
    assert len(sent) == 3 and sent[0].startswith("Part one") and sent[1].startswith("Part two")
    calls = transport.to(501)
    assert [c[1]["text"][:8] for c in calls] == ["Part one", "Part two", "Part two", "more mor"]
    assert all(utf16_len(c[1]["text"]) <= TEXT_LIMIT for c in calls)
    assert "reply_markup" in calls[-1][1] and all("reply_markup" not in c[1] for c in calls[:-1])
    done = await row(db, row_id)
    assert done.status == "sent" and len(done.payload["_message_ids"]) == 2
    async with db.read() as session:
        links = (await session.exec(select(MessageLink).where(MessageLink.chat_id == 501))).all()
    assert len(links) == 3  # a reply to any part finds the ticket


async def test_long_caption_becomes_caption_plus_text(db: Database) -> None:
    transport = FakeTransport()
    async with db.session() as session:
        outbox.send_file(session, STAFF, "photo", "FILE", caption="<i>shot</i> " + "detail " * 400)
    await sender(db, transport).drain(until_empty=True)
    (photo, text) = transport.to(STAFF)
    assert photo[0] == "sendPhoto" and utf16_len(photo[1]["caption"]) <= CAPTION_LIMIT
    assert text[0] == "sendMessage" and text[1]["text"].startswith("detail")


async def test_refused_html_is_sent_as_plain_text(db: Database) -> None:
    transport = FakeTransport()
    transport.before.append(
        lambda m, p, n: (
            Rejected('Bad Request: can\'t parse entities: Unsupported start tag "x"') if p.get("parse_mode") else None
        )
    )
    await queue(db, 501, "Hello <b>Ann</b> &amp; team")
    delivery = sender(db, transport)
    await delivery.drain(until_empty=True)
    assert transport.delivered[501] == ["Hello Ann & team"]
    assert delivery.stats.plain_fallbacks == 1


async def test_refused_keyboard_is_dropped_not_the_message(db: Database) -> None:
    transport = FakeTransport()
    transport.before.append(
        lambda m, p, n: Rejected("Bad Request: BUTTON_DATA_INVALID") if "reply_markup" in p else None
    )
    await queue(db, 501, "Rate us", buttons=[[("1", "rt:1:1")]])
    await sender(db, transport).drain(until_empty=True)
    assert transport.delivered[501] == ["Rate us"]


async def test_other_refusals_fail_and_are_recorded(db: Database) -> None:
    tid, _ = await ticket_with_card(db)
    transport = FakeTransport()
    transport.before.append(lambda m, p, n: Rejected("Bad Request: chat not found") if p["chat_id"] == 501 else None)
    row_id = await queue(db, 501, "x", ticket_id=tid)
    await sender(db, transport).drain(until_empty=True)
    assert (await row(db, row_id)).status == "failed"
    assert [e.note for e in await desk.events(db, tid, "delivery_failed")] == ["Bad Request: chat not found"]


# -- the staff chat: topics, cards, replies, edits -------------------------------------------------------


async def test_topic_then_card_then_reply_in_order(db: Database) -> None:
    """STAFF_TOPICS: the topic is created first, the card goes into it, a reply waits for the card."""
    tid = await desk.new_ticket(db, desk.policy(staff_chat_id=None), 501)  # no card queued by registration
    await desk.change(db, tid, staff_chat_id=STAFF)
    async with db.session() as session:
        outbox.create_topic(session, STAFF, "INC", ticket_id=tid)
        outbox.send_text(session, STAFF, "the card", ticket_id=tid, link_kind="card")
        outbox.send_text(session, STAFF, "a reply under the card", ticket_id=tid, reply_to_card=True)
    transport = FakeTransport()
    card_fails = iter([True])
    transport.before.append(
        lambda m, p, n: Transient("Bad Gateway") if p.get("text") == "the card" and next(card_fails, False) else None
    )
    await sender(db, transport).drain(until_empty=True, timeout=10)
    calls = transport.to(STAFF)
    assert [(m, p.get("text")) for m, p, _ in calls] == [
        ("createForumTopic", None),
        ("sendMessage", "the card"),
        ("sendMessage", "the card"),
        ("sendMessage", "a reply under the card"),
    ]
    ticket = await desk.ticket(db, tid)
    assert ticket.staff_thread_id == 77 and ticket.staff_message_id is not None
    card, reply = calls[2][1], calls[3][1]
    assert card["message_thread_id"] == 77 and reply["message_thread_id"] == 77
    assert reply["reply_parameters"]["message_id"] == ticket.staff_message_id


async def test_only_the_newest_card_edit_is_sent(db: Database) -> None:
    tid, _ = await ticket_with_card(db)
    async with db.session() as session:
        ticket = await session.get(Ticket, tid)
        for n in range(3):
            outbox.edit_text(session, STAFF, None, f"card v{n}", ticket_id=tid, edits_card=True)
        session.add(ticket)
    transport = FakeTransport()
    await sender(db, transport).drain(until_empty=True)
    assert [c[1]["text"] for c in transport.to(STAFF)] == ["card v2"]
    assert transport.to(STAFF)[0][1]["message_id"] == (await desk.ticket(db, tid)).staff_message_id


async def test_an_unchanged_card_edit_keeps_its_buttons(db: Database) -> None:
    """Telegram's "message is not modified" also says "reply markup": it must not be taken for a refused
    keyboard (which would resend the card without its buttons)."""
    tid, _ = await ticket_with_card(db)
    async with db.session() as session:
        outbox.edit_text(session, STAFF, None, "card", ticket_id=tid, edits_card=True, buttons=[[("Take", "tk:1")]])
        edit_id = await last_outbox_id(session)
    transport = FakeTransport()
    transport.before.append(
        lambda m, p, n: Rejected(
            "Bad Request: message is not modified: specified new message content and reply markup are "
            "exactly the same as a current content and reply markup of the message"
        )
    )
    delivery = sender(db, transport)
    await delivery.drain(until_empty=True)
    assert [c[0] for c in transport.to(STAFF)] == ["editMessageText"]
    assert "reply_markup" in transport.to(STAFF)[0][1]
    assert (await row(db, edit_id)).status == "sent"


async def test_stopping_finishes_the_call_in_flight_and_gives_the_rest_back(db: Database) -> None:
    transport = FakeTransport()
    for i in range(3):
        await queue(db, 1001, f"m{i}")
    delivery = sender(db, transport, DeliveryLimits(private_interval=1.0, poll_every=0.05))
    stop = asyncio.Event()
    running = asyncio.create_task(delivery.run(stop))
    while not transport.calls:  # noqa: ASYNC110
        await asyncio.sleep(0.01)
    stop.set()
    await asyncio.wait_for(running, timeout=3)
    assert transport.delivered[1001] == ["m0"]
    async with db.read() as session:
        rows = (await session.exec(select(OutboxMessage).order_by(OutboxMessage.id))).all()
    assert [(r.status, r.locked_by) for r in rows] == [("sent", None), ("pending", None), ("pending", None)]


# -- pacing ----------------------------------------------------------------------------------------------


async def test_private_chat_interval(db: Database) -> None:
    transport = FakeTransport()
    for i in range(4):
        await queue(db, 1001, f"m{i}")
    await sender(db, transport, DeliveryLimits(private_interval=0.25, poll_every=0.05)).drain(until_empty=True)
    stamps = [c[2] for c in transport.to(1001)]
    assert min(b - a for a, b in itertools.pairwise(stamps)) >= 0.25


async def test_pacing_survives_a_restart(db: Database, sqlite_database_url: str) -> None:
    transport = FakeTransport()
    limits = DeliveryLimits(private_interval=0.8, poll_every=0.05)
    await queue(db, 1001, "before")
    await sender(db, transport, limits).drain(until_empty=True)
    await queue(db, 1001, "after")
    restarted_db = Database(sqlite_database_url)
    try:
        await sender(restarted_db, transport, limits).drain(until_empty=True)
    finally:
        await restarted_db.dispose()
    first, second = transport.to(1001)
    assert second[2] - first[2] >= 0.7  # sent_at has millisecond-level precision in the table


async def test_global_rate(db: Database) -> None:
    """40 chats at once with a rate of 20 a second: a flood model of that rate (a bucket of 20, as the
    stand-in models Telegram's) refuses none of the calls. Counted, not timed: a busy machine only
    spreads the calls further apart; without the limiter 20 of them would be refused."""
    transport = FakeTransport()
    for chat in range(1, 41):
        await queue(db, chat, "hi")
    await sender(db, transport, DeliveryLimits(per_second=20, poll_every=0.05)).drain(until_empty=True)
    assert len(transport.calls) == 40
    flood = FloodControl(FloodLimits(global_per_second=20, global_burst=20))
    assert [at for at in sorted(c[2] for c in transport.calls) if flood.check(None, None, now=at)] == []


async def test_a_process_takes_on_no_more_chats_than_it_can_serve_within_a_lease(any_db: Database) -> None:
    """Claimed rows wait for the global rate; a process that claimed every due chat at once would keep
    rows waiting past their lease, and another process would send them too. So it takes on at most what
    the rate sends in a quarter of a lease, and the rest when those are done."""
    limits = DeliveryLimits(per_second=10, lease=4, private_interval=0.02, poll_every=0.05)
    async with any_db.session() as session:
        for chat in range(7001, 7031):
            outbox.send_text(session, chat, f"Notice for {chat}")
    transport = FakeTransport()
    delivery = desk.delivery(any_db, transport, limits)
    assert delivery.max_active_chats == 10
    claimed = await delivery.dispatch_due()
    assert claimed == 10 and len(delivery._active) <= 10
    assert await delivery.dispatch_due() <= 10 - len(delivery._active)
    await delivery.drain(timeout=60, until_empty=True)
    assert sorted(transport.delivered) == list(range(7001, 7031))  # the rest follow, each once
    assert all(len(texts) == 1 for texts in transport.delivered.values())

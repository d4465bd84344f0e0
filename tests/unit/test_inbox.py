"""UpdateInbox on a real database: durable, once, in order per chat, bounded retries, parked with notice.

The handler layer here is a scripted `deliver` function, so a handler can be made to fail, hang or record
what it saw; effects are outbox rows written through `ctx.reply` in the handler's transaction, exactly as
the product's handlers do.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import col, func, select

from bot.batch import pg_lock_key
from bot.handlers.context import HandlerContext
from bot.handlers.update import Update, chat_key_of, sender_of
from bot.inbox import MIN_BATCH, RECOVERY_GRACE, UpdateInbox
from helpdesk import outbox
from helpdesk.clock import now_utc
from helpdesk.people import Person, ensure_customer
from helpdesk.policy import DeskPolicy
from storage.db import Database
from storage.models import InboxUpdate, OutboxMessage
from storage.repos import dialect_insert

STAFF = -100123
POLICY = DeskPolicy(agent_ids=frozenset({7001}), staff_chat_id=STAFF)
_ids = iter(range(1_000, 10**9))


def message(chat_id: int, text: str, *, update_id: int | None = None, chat_type: str = "private", user: int = 0):
    sender = user or chat_id
    return {
        "update_id": update_id if update_id is not None else next(_ids),
        "message": {
            "message_id": next(_ids),
            "date": 1_700_000_000,
            "chat": {"id": chat_id, "type": chat_type, **({"first_name": "C"} if chat_type == "private" else {})},
            "from": {"id": sender, "is_bot": False, "first_name": f"User{sender}", "language_code": "en"},
            "text": text,
        },
    }


class Recorder:
    """A handler layer whose behaviour per text is scripted: 'ok', 'fail', 'fail-once', 'hang', 'slow'."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, str]] = []
        self.failures: dict[str, int] = defaultdict(int)
        self.active: dict[int, int] = defaultdict(int)
        self.max_active_per_chat = 0
        self.max_active_total = 0
        self._total = 0

    async def __call__(self, update: Update, ctx: HandlerContext) -> bool:
        if update.press is not None:
            self.calls.append((ctx.person.user_id if ctx.person else 0, update.press.data or ""))
            raise RuntimeError("button handler broken")
        if update.message is None:
            return False
        await self.on_message(update, ctx)
        return True

    async def on_message(self, update: Update, ctx: HandlerContext) -> None:
        assert update.message is not None
        chat = update.message.chat_id
        text = update.message.text or ""
        self.calls.append((chat, text))
        self.active[chat] += 1
        self._total += 1
        self.max_active_per_chat = max(self.max_active_per_chat, self.active[chat])
        self.max_active_total = max(self.max_active_total, self._total)
        try:
            if ctx.is_private:
                await ctx.customer()  # as the product's handlers do: a private sender is a customer
            ctx.reply(f"echo {text}")  # an effect in the same transaction, written before any failure
            if text.startswith("dup"):  # an effect that fails at the commit when another chat wrote it too
                outbox.send_text(ctx.session, chat, "dup", dedupe_key="one-only")
            if text.startswith("slow"):
                await asyncio.sleep(0.05)
            if text.startswith("fail-once") and self.failures[text] == 0:
                self.failures[text] += 1
                raise RuntimeError("transient")
            if text.startswith("fail-always"):
                self.failures[text] += 1
                raise RuntimeError("broken handler")
            if text.startswith("hang"):
                self.failures[text] += 1
                await asyncio.sleep(3600)
        finally:
            self.active[chat] -= 1
            self._total -= 1


class Answers:
    """Button answers go nowhere (these handlers never answer buttons)."""

    async def answer_button(self, query_id: str, text: str | None, alert: bool) -> None:
        return None


@pytest.fixture
def bot() -> Answers:
    return Answers()


def make_inbox(db: Database, bot: Any, recorder: Recorder, **kw: Any) -> UpdateInbox:
    kw.setdefault("retry_delays", (0.01,))
    return UpdateInbox(db, recorder, bot, POLICY, triage=None, **kw)


async def outbox_texts(db: Database, chat_id: int | None = None) -> list[str]:
    async with db.read() as s:
        stmt = select(OutboxMessage).order_by(col(OutboxMessage.id))
        if chat_id is not None:
            stmt = stmt.where(OutboxMessage.chat_id == chat_id)
        return [r.payload.get("text", "") for r in (await s.exec(stmt)).all()]


async def inbox_rows(db: Database) -> dict[int, InboxUpdate]:
    async with db.read() as s:
        return {r.update_id: r for r in (await s.exec(select(InboxUpdate))).all()}


# -- keys ------------------------------------------------------------------------------------------


def test_chat_key_and_person_of_every_kind() -> None:
    assert chat_key_of(message(5, "x")) == 5
    assert chat_key_of(message(-100777, "x", chat_type="supergroup", user=9)) == -100777
    query = {"update_id": 1, "callback_query": {"id": "q", "from": {"id": 42, "is_bot": False, "first_name": "A"}}}
    assert chat_key_of(query) == 42  # a button without its message: the presser's private chat
    person, chat_id, chat_type = sender_of(query)
    assert person is not None and person.user_id == 42 and chat_id == 42 and chat_type == "private"
    assert chat_key_of({"update_id": 2, "poll": {"id": "p"}}) == 0
    assert chat_key_of({"update_id": 3, "message": "garbage"}) == 0
    channel = {"update_id": 4, "channel_post": {"chat": {"id": -1001, "type": "channel"}, "sender_chat": {}}}
    assert chat_key_of(channel) == -1001
    assert sender_of(channel)[0] is None
    assert -(2**31) <= pg_lock_key(-1001234567890) < 2**31


# -- durable and once ------------------------------------------------------------------------------


async def test_each_update_is_handled_once_even_when_stored_again(db: Database, bot: Any) -> None:
    rec = Recorder()
    inbox = make_inbox(db, bot, rec)
    updates = [message(10, f"hello {i}") for i in range(5)]
    assert len(await inbox.store(updates)) == 5
    assert await inbox.store(updates[:3]) == []  # Telegram resends before the handler ran
    await inbox.idle(10)
    assert await inbox.store(updates) == []  # ...and after it ran
    assert await inbox.store([updates[0], updates[0]]) == []
    await inbox.idle(10)
    assert rec.calls == [(10, f"hello {i}") for i in range(5)]
    assert await outbox_texts(db) == [f"echo hello {i}" for i in range(5)]
    rows = await inbox_rows(db)
    assert {r.status for r in rows.values()} == {"done"}
    assert inbox.stats.processed == 5 and inbox.stats.duplicates == 3 + 5 + 1


async def test_updates_arriving_together_are_stored_in_one_transaction(db: Database, bot: Any) -> None:
    """Webhook requests at the same moment: one group commit, each caller told about its own updates."""
    rec = Recorder()
    inbox = make_inbox(db, bot, rec)
    updates = [message(500 + i, f"hook {i}") for i in range(20)]
    results = await asyncio.gather(*(inbox.store([u]) for u in updates), inbox.store([updates[0]]))
    assert results[:20] == [[u["update_id"]] for u in updates]
    assert inbox.stats.stores == 1 and inbox.stats.stored == 20
    await inbox.idle(10)
    assert sorted(t for _, t in rec.calls) == sorted(f"hook {i}" for i in range(20))


async def test_a_store_is_one_statement_and_tells_known_updates_apart(db: Database, bot: Any) -> None:
    """A store (every webhook request's transaction) is one INSERT … ON CONFLICT DO NOTHING RETURNING:
    the ids it returns are the fresh ones, without a read of the known ones first."""
    from sqlalchemy import event

    inbox = make_inbox(db, bot, Recorder())
    known = [message(560 + i, f"known {i}") for i in range(3)]
    assert await inbox.store(known) == [u["update_id"] for u in known]
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, sql: str, *_args: Any) -> None:
        if not sql.startswith("BEGIN"):  # SQLite's BEGIN IMMEDIATE: the transaction, not a statement
            statements.append(" ".join(sql.split()))

    await inbox.idle(10)
    fresh = [message(570 + i, f"fresh {i}") for i in range(3)]
    event.listen(db.engine.sync_engine, "before_cursor_execute", record)
    try:
        stored = await inbox._store_now([known[1], fresh[0], known[2], *fresh[1:]])  # no batch starts before the check
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", record)
    assert stored == {u["update_id"] for u in fresh} and inbox.stats.duplicates == 2
    assert len(statements) == 1 and statements[0].startswith("INSERT INTO inbox") and "RETURNING" in statements[0]
    await inbox.idle(10)


async def test_stored_but_unfinished_updates_are_handled_once_at_start(db: Database, bot: Any) -> None:
    """A crash after storing and before handling: the next process's recover() handles them, once."""
    first = make_inbox(db, bot, Recorder())
    updates = [message(20, "one"), message(21, "two"), message(20, "three")]
    async with db.session() as s:  # what store() leaves behind if the process dies right after it
        await s.execute(
            dialect_insert(s, InboxUpdate),
            [{"update_id": u["update_id"], "chat_key": chat_key_of(u), "payload": u} for u in updates],
        )
    del first
    rec = Recorder()
    second = make_inbox(db, bot, rec)
    assert await second.recover() == 2
    assert await second.recover() == 2  # recovery running again (every 10 s) while busy is harmless
    await second.idle(10)
    assert sorted(rec.calls) == [(20, "one"), (20, "three"), (21, "two")]
    assert await second.recover() == 0
    assert sorted(await outbox_texts(db)) == ["echo one", "echo three", "echo two"]


async def test_the_periodic_recovery_leaves_fresh_updates_to_the_process_that_stored_them(
    db: Database, bot: Any
) -> None:
    """Another process's update stored a moment ago is in its hands: the periodic pass does not take it
    up (that only collides on the chat's lock); once older than the grace it does (that process died)."""
    fresh, old = message(40, "just stored elsewhere"), message(41, "stored by a process that died")
    async with db.session() as s:
        await s.execute(
            dialect_insert(s, InboxUpdate),
            [
                {"update_id": fresh["update_id"], "chat_key": 40, "payload": fresh},
                {
                    "update_id": old["update_id"],
                    "chat_key": 41,
                    "payload": old,
                    "received_at": now_utc() - RECOVERY_GRACE - timedelta(seconds=1),
                },
            ],
        )
    rec = Recorder()
    inbox = make_inbox(db, bot, rec)
    assert await inbox.recover(older_than=RECOVERY_GRACE) == 1
    await inbox.idle(10)
    assert rec.calls == [(41, "stored by a process that died")]
    assert await inbox.recover() == 1  # at start every unfinished update is taken up, however fresh
    await inbox.idle(10)
    assert rec.calls[-1] == (40, "just stored elsewhere")


async def test_a_redelivered_update_that_was_stored_but_not_handled_is_handled_at_once(db: Database, bot: Any) -> None:
    """The process that stored it died; Telegram resends it to this one: no waiting for the recovery pass."""
    update = message(25, "stored by a process that died")
    async with db.session() as s:
        await s.execute(
            dialect_insert(s, InboxUpdate), [{"update_id": update["update_id"], "chat_key": 25, "payload": update}]
        )
    rec = Recorder()
    inbox = make_inbox(db, bot, rec)
    assert await inbox.store([update]) == []  # not new...
    await inbox.idle(10)
    assert rec.calls == [(25, "stored by a process that died")]  # ...but handled, once
    assert await outbox_texts(db) == ["echo stored by a process that died"]


async def test_two_inboxes_on_one_database_handle_each_update_once(db: Database, bot: Any) -> None:
    """Two processes (or a second start) receiving the same updates: one handling each."""
    rec_a, rec_b = Recorder(), Recorder()
    other_db = Database(db.url)
    try:
        a, b = make_inbox(db, bot, rec_a), make_inbox(other_db, bot, rec_b)
        updates = [message(30 + i % 4, f"slow {i}") for i in range(24)]
        # no recovery pass: a process that finds a chat held by the other looks again until it is empty
        await asyncio.gather(a.store(updates[:16]), b.store(updates[8:]))
        await asyncio.gather(a.idle(20), b.idle(20))
    finally:
        await other_db.dispose()
    handled = sorted(rec_a.calls + rec_b.calls)
    assert handled == sorted((30 + i % 4, f"slow {i}") for i in range(24))
    texts = await outbox_texts(db)
    assert sorted(texts) == sorted(f"echo slow {i}" for i in range(24))
    # each chat's updates were handled in update_id order, whichever process had them
    async with db.read() as s:
        done_order = (await s.exec(select(InboxUpdate.chat_key, InboxUpdate.done_at, InboxUpdate.update_id))).all()
    by_chat = defaultdict(list)
    for chat, _done_at, uid in sorted(done_order, key=lambda r: r[1]):
        by_chat[chat].append(uid)
    assert all(ids == sorted(ids) for ids in by_chat.values())


# -- order and parallelism -------------------------------------------------------------------------


async def test_one_chat_in_order_one_at_a_time_different_chats_in_parallel(db: Database, bot: Any) -> None:
    rec = Recorder()
    inbox = make_inbox(db, bot, rec, concurrency=8)
    chats = 2 * MIN_BATCH + 1  # enough ready chats for parallel transactions (`UpdateInbox._start_workers`)
    updates = [message(40 + i % chats, f"slow {i}") for i in range(6 * chats)]
    await inbox.store(updates[: 3 * chats])
    await inbox.store(updates[3 * chats :])
    await inbox.idle(20)
    assert rec.max_active_per_chat == 1
    for chat in range(40, 40 + chats):
        seen = [int(text.split()[1]) for c, text in rec.calls if c == chat]
        assert seen == sorted(seen) and len(seen) == 6
    if not db.is_sqlite:  # SQLite has one connection, so handlers take turns on it by design
        assert rec.max_active_total > 1


async def test_an_update_stored_while_its_chat_drains_is_not_left_behind(db: Database, bot: Any) -> None:
    rec = Recorder()
    inbox = make_inbox(db, bot, rec)
    for i in range(30):
        await inbox.store([message(50, f"n {i}")])
        if i % 3 == 0:
            await asyncio.sleep(0)
    await inbox.idle(20)
    assert [t for _, t in rec.calls] == [f"n {i}" for i in range(30)]
    assert not inbox.busy


# -- batches: the next update of many chats in one transaction ------------------------------------------


async def test_many_chats_share_a_transaction_and_a_failure_blames_only_its_update(db: Database, bot: Any) -> None:
    rec = Recorder()
    inbox = make_inbox(db, bot, rec, attempts=3, concurrency=2)  # PostgreSQL: two transactions share the chats
    updates = [message(200 + i, f"hello {i}" if i != 7 else "fail-once seven") for i in range(20)]
    await inbox.store(updates)
    await inbox.idle(10)
    assert inbox.stats.processed == 20 and inbox.stats.batches < 20  # batched
    assert inbox.stats.failed_attempts == 1 and rec.failures["fail-once seven"] == 1  # blamed once, alone
    for i in range(20):  # the batch's rollback took the others' effects too; each happened exactly once
        expected = ["echo fail-once seven"] if i == 7 else [f"echo hello {i}"]
        assert await outbox_texts(db, 200 + i) == expected
    assert {r.status for r in (await inbox_rows(db)).values()} == {"done"}


async def test_a_batch_pays_its_inbox_statements_once_whatever_its_size(db: Database, bot: Any) -> None:
    """The inbox's own statements per batch (transaction) are a fixed few: the chats' locks (PostgreSQL),
    one read of their pending rows, one UPDATE with every done mark; on PostgreSQL each is one statement
    text whatever the batch's size (a list is one array parameter), so it is prepared once."""
    from sqlalchemy import event

    own: list[list[str]] = []  # per batch: the statements of the inbox machinery (not the handlers')

    def record(_conn: Any, _cursor: Any, sql: str, _params: Any, _context: Any, executemany: bool) -> None:
        text = " ".join(sql.split())
        if "pg_try_advisory_xact_lock" in text or text.startswith(("SELECT inbox.update_id", "UPDATE inbox")):
            own[-1].append(("executemany " if executemany else "") + text)

    for size in (3, 12):
        inbox = make_inbox(db, bot, Recorder(), concurrency=1)  # one transaction at a time: one batch
        updates = [message(600 + size * 100 + i, f"hello {i}") for i in range(size)]
        own.append([])
        event.listen(db.engine.sync_engine, "before_cursor_execute", record)
        try:
            await inbox.store(updates)
            await inbox.idle(10)
        finally:
            event.remove(db.engine.sync_engine, "before_cursor_execute", record)
        assert inbox.stats.processed == size and inbox.stats.batches == 1
        assert all(r.status == "done" for r in (await inbox_rows(db)).values())
    # the store's own check of known ids (`_insert`) is not the batch's: drop it
    batches = [[t for t in texts if not t.startswith("SELECT inbox.update_id FROM")] for texts in own]
    expected = 2 if db.is_sqlite else 3  # (the locks,) the pending rows, the done marks
    assert [len(texts) for texts in batches] == [expected, expected]
    assert sum(t.startswith("UPDATE inbox") for t in batches[1]) == 1  # twelve done marks, one statement
    if not db.is_sqlite:
        assert batches[0] == batches[1]  # the same texts for 3 and 12 chats: one prepared statement each


async def test_a_chat_ready_while_the_workers_are_busy_joins_the_next_batch(db: Database, bot: Any) -> None:
    """`min_batch`: a chat that becomes ready while a batch runs does not start a transaction of its own
    until `min_batch` chats are waiting; the running worker takes them together when its batch is done."""
    if db.is_sqlite:
        pytest.skip("SQLite runs one batch at a time anyway (one connection)")
    entered, release = asyncio.Event(), asyncio.Event()

    class Gated(Recorder):
        async def on_message(self, update: Update, ctx: HandlerContext) -> None:
            await super().on_message(update, ctx)
            if (update.message.text or "") == "gate":
                entered.set()
                await release.wait()

    rec = Gated()
    inbox = make_inbox(db, bot, rec, concurrency=8, min_batch=3)
    await inbox.store([message(700, "gate")])
    await entered.wait()  # the first batch (chat 700) is in its handler
    await inbox.store([message(701, "b")])
    await inbox.store([message(702, "c")])  # two chats wait: fewer than min_batch, no second transaction
    assert len(inbox._workers) == 1
    release.set()
    await inbox.idle(10)
    assert sorted(rec.calls) == [(700, "gate"), (701, "b"), (702, "c")]
    assert inbox.stats.batches == 2  # [700], then [701, 702] together
    assert rec.max_active_total == 1
    await inbox.store([message(710 + i, "d") for i in range(6)])  # six ready at once: two transactions
    await inbox.idle(10)
    assert inbox.stats.batches == 4 and inbox.stats.processed == 9


async def test_a_chat_scheduled_just_as_a_worker_finishes_gets_a_worker(db: Database, bot: Any) -> None:
    """A worker that has returned stays in the set until its done callback runs in the next turn of the
    loop; a chat scheduled in that gap must start a worker of its own, not wait for the periodic recovery."""
    rec = Recorder()
    inbox = make_inbox(db, bot, rec)

    async def finished() -> None:
        return None

    gone = asyncio.create_task(finished())
    await gone
    inbox._workers.add(gone)  # the gap: done, its discard callback not yet run
    await inbox.store([message(720, "hello")])
    inbox._workers.discard(gone)
    assert await inbox.idle(10)
    assert rec.calls == [(720, "hello")]


async def test_first_contacts_of_a_batch_become_customers_once(db: Database, bot: Any) -> None:
    """Private senders new to the desk are created together; a group stranger is not a customer."""
    from storage.models import Customer

    inbox = make_inbox(db, bot, Recorder(), attempts=3)
    updates = [message(400 + i, "hello" if i != 2 else "fail-once first") for i in range(6)]
    updates.append(message(-100777, "in a group", chat_type="supergroup", user=499))
    await inbox.store(updates)
    await inbox.store([message(401, "again")])
    await inbox.idle(10)
    async with db.read() as s:
        people = sorted((await s.exec(select(Customer.telegram_id))).all())
    assert people == [400, 401, 402, 403, 404, 405]  # the rolled-back batch left no half-made customer


async def test_a_batch_counts_its_messages_for_flood_control_in_one_query(db: Database, bot: Any) -> None:
    """What flood control counts (a chat's earlier inputs within the minute, messages and button presses
    apart) is counted for the whole batch up front: a handler asking for its update's count runs no query,
    and gets what the query would give."""
    from sqlalchemy import event

    from storage import held_messages

    counted: dict[tuple[int, str], int] = {}
    queries: list[str] = []
    asked: list[str] = []  # what the handlers' questions ran

    def record(_conn: Any, _cursor: Any, sql: str, *_args: Any) -> None:
        queries.append(sql)

    class Counting(Recorder):
        async def __call__(self, update: Update, ctx: HandlerContext) -> bool:
            if update.press is None:
                return await super().__call__(update, ctx)
            before = len(queries)
            counted[(update.chat_id, update.press.data or "")] = await held_messages.presses_before(
                ctx.session, update.update_id, 60
            )
            asked.extend(queries[before:])
            return True

        async def on_message(self, update: Update, ctx: HandlerContext) -> None:
            before = len(queries)
            counted[(update.message.chat_id, update.message.text or "")] = await held_messages.inputs_before(
                ctx.session, update.update_id, 60
            )
            asked.extend(queries[before:])

    inbox = make_inbox(db, bot, Counting(), attempts=3)
    presses = [
        {
            "update_id": next(_ids),
            "callback_query": {
                "id": f"p{i}",
                "from": {"id": 512, "is_bot": False, "first_name": "Bo"},
                "chat_instance": "1",
                "data": f"p{i}",
                "message": {"message_id": 3, "date": 1, "chat": {"id": 512, "type": "private", "first_name": "Bo"}},
            },
        }
        for i in range(3)
    ]
    await inbox.store([message(510, f"m{i}") for i in range(4)] + [message(511, "alone"), *presses])
    event.listen(db.engine.sync_engine, "before_cursor_execute", record)
    try:
        await inbox.idle(10)
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", record)
    assert counted == {
        **{(510, "m0"): 0, (510, "m1"): 1, (510, "m2"): 2, (510, "m3"): 3, (511, "alone"): 0},
        **{(512, "p0"): 0, (512, "p1"): 1, (512, "p2"): 2},  # presses are counted apart
    }
    assert asked == []  # answered from the batch's count
    async with db.read() as s:  # the per-message query agrees
        last = max(r.update_id for r in (await inbox_rows(db)).values() if r.chat_key == 510)
        assert await held_messages.inputs_before(s, last, 60) == 3


async def test_a_failure_at_the_commit_splits_the_batch_until_it_names_its_update(db: Database, bot: Any) -> None:
    """Two chats' effects that cannot both be committed: the batch is split, one wins, the other is parked."""
    rec = Recorder()
    inbox = make_inbox(db, bot, rec, attempts=2)
    await inbox.store([message(300, "dup a"), message(301, "dup b"), message(302, "fine")])
    await inbox.idle(10)
    rows = await inbox_rows(db)
    statuses = sorted(r.status for r in rows.values())
    assert statuses == ["done", "done", "parked"]
    assert await outbox_texts(db, 302) == ["echo fine"]
    winner, loser = (300, 301) if await outbox_texts(db, 300) == ["echo dup a", "dup"] else (301, 300)
    assert (await outbox_texts(db, loser))[0].startswith("Sorry")  # the apology, never silence
    assert len(await outbox_texts(db, STAFF)) == 1
    assert inbox.stats.parked == 1 and inbox.stats.processed == 2
    assert winner != loser


# -- failures --------------------------------------------------------------------------------------


async def test_a_transient_failure_is_retried_and_its_effects_happen_once(db: Database, bot: Any) -> None:
    rec = Recorder()
    inbox = make_inbox(db, bot, rec, attempts=3)
    await inbox.store([message(60, "fail-once a"), message(60, "after")])
    await inbox.idle(10)
    assert [t for _, t in rec.calls] == ["fail-once a", "fail-once a", "after"]
    # the failed attempt's reply was rolled back with it: one echo, then the next update, in order
    assert await outbox_texts(db, 60) == ["echo fail-once a", "echo after"]
    rows = await inbox_rows(db)
    assert [r.status for r in rows.values()] == ["done", "done"]
    assert inbox.stats.failed_attempts == 1 and inbox.stats.parked == 0


async def test_a_failing_handler_is_parked_staff_told_customer_apologised(db: Database, bot: Any) -> None:
    rec = Recorder()
    inbox = make_inbox(db, bot, rec, attempts=3)
    update = message(70, "fail-always")
    await inbox.store([update, message(70, "next one")])
    await inbox.idle(10)
    assert rec.failures["fail-always"] == 3  # bounded
    rows = await inbox_rows(db)
    parked = rows[update["update_id"]]
    assert parked.status == "parked" and parked.attempts == 3 and parked.error_id
    assert "broken handler" in (parked.last_error or "")
    staff = await outbox_texts(db, STAFF)
    assert len(staff) == 1 and parked.error_id in staff[0] and "User70" in staff[0]
    customer = await outbox_texts(db, 70)
    assert customer[0].startswith("Sorry") and "received" in customer[0]
    assert "echo fail-always" not in customer  # no effect of the failed attempts survived
    assert customer[-1] == "echo next one"  # the chat goes on with its next update
    assert inbox.stats.parked == 1
    # parked is final: a redelivery or a recovery does not run it again
    await inbox.store([update])
    await inbox.recover()
    await inbox.idle(5)
    assert rec.failures["fail-always"] == 3


async def test_parked_notice_names_the_customers_open_ticket(db: Database, bot: Any) -> None:
    from tests.unit.test_tickets import register

    async with db.session() as s:
        customer = await ensure_customer(s, Person(user_id=71, chat_id=71, first_name="Tom"))
    ticket = await register(db, customer)
    inbox = make_inbox(db, bot, Recorder(), attempts=2)
    await inbox.store([message(71, "fail-always")])
    await inbox.idle(10)
    staff = [t for t in await outbox_texts(db, STAFF) if "could not be processed" in t]
    assert len(staff) == 1 and ticket.number in staff[0]


async def test_a_hanging_handler_times_out_and_is_parked(db: Database, bot: Any) -> None:
    rec = Recorder()
    inbox = make_inbox(db, bot, rec, attempts=2, handler_timeout=0.2)
    await inbox.store([message(80, "hang"), message(81, "other chat")])
    await inbox.idle(10)
    assert rec.failures["hang"] == 2  # a handler that hung for ever would have failed once at most
    assert (await inbox_rows(db))[min(await inbox_rows(db))].status == "parked"
    assert "echo other chat" in await outbox_texts(db, 81)


async def test_failed_attempts_survive_a_restart(db: Database, bot: Any) -> None:
    """The attempt count is stored: a crash loop cannot retry an update for ever."""
    rec = Recorder()
    update = message(90, "fail-always")
    async with db.session() as s:
        s.add(InboxUpdate(update_id=update["update_id"], chat_key=90, payload=update, attempts=2, error_id="abc12345"))
    inbox = make_inbox(db, bot, rec, attempts=3)
    await inbox.recover()
    await inbox.idle(10)
    assert rec.failures["fail-always"] == 1
    assert (await inbox_rows(db))[update["update_id"]].status == "parked"
    # already at the limit (failed, then the process died before parking it): parked without a new try
    update2 = message(91, "fail-always")
    async with db.session() as s:
        s.add(InboxUpdate(update_id=update2["update_id"], chat_key=91, payload=update2, attempts=3))
    await inbox.recover()
    await inbox.idle(10)
    assert rec.failures["fail-always"] == 1
    assert (await inbox_rows(db))[update2["update_id"]].status == "parked"
    assert len(await outbox_texts(db, 91)) == 1  # the apology


async def test_a_failing_group_update_tells_the_staff_but_writes_nothing_to_the_group(db: Database, bot: Any) -> None:
    inbox = make_inbox(db, bot, Recorder(), attempts=1)
    await inbox.store([message(-100555, "fail-always", chat_type="supergroup", user=5)])
    await inbox.idle(10)
    assert len(await outbox_texts(db, STAFF)) == 1
    assert await outbox_texts(db, -100555) == []


async def test_a_failing_button_is_parked_with_an_apology(db: Database, bot: Any) -> None:
    rec = Recorder()
    inbox = make_inbox(db, bot, rec, attempts=2)
    query = {
        "update_id": next(_ids),
        "callback_query": {
            "id": "77",
            "from": {"id": 95, "is_bot": False, "first_name": "Bo"},
            "chat_instance": "1",
            "data": "forged:data",
            "message": {"message_id": 3, "date": 1, "chat": {"id": 95, "type": "private", "first_name": "Bo"}},
        },
    }
    await inbox.store([query])
    await inbox.idle(10)
    assert rec.calls == [(95, "forged:data")] * 2
    assert len(await outbox_texts(db, 95)) == 1 and len(await outbox_texts(db, STAFF)) == 1


async def test_the_log_has_one_line_per_update_with_outcome_and_latency(db: Database, bot: Any, caplog) -> None:
    caplog.set_level("INFO", logger="bot.updates")
    inbox = make_inbox(db, bot, Recorder(), attempts=2)
    await inbox.store([message(99, "fine"), message(98, "fail-always")])
    assert await inbox.idle(30)
    lines = [r for r in caplog.records if r.name == "bot.updates" and getattr(r, "fields", None)]
    outcomes = sorted(r.fields["outcome"] for r in lines)
    assert outcomes == ["error", "error", "handled", "parked"]
    for record in lines:
        assert {"update", "chat", "kind", "outcome"} <= set(record.fields)
        assert "outcome=" in record.getMessage()
    assert all("latency_ms" in r.fields for r in lines if r.fields["outcome"] != "parked")


async def test_rows_count_matches(db: Database, bot: Any) -> None:
    inbox = make_inbox(db, bot, Recorder())
    await inbox.store([message(100 + i, "hi there") for i in range(10)])
    await inbox.idle(10)
    async with db.read() as s:
        done = (await s.exec(select(func.count()).select_from(InboxUpdate).where(InboxUpdate.status == "done"))).one()
    assert done == 10


async def test_a_batchs_button_answers_are_under_way_together_after_its_commit(db: Database) -> None:
    """Each answerCallbackQuery is a round trip to the Bot API: a batch's answers start together (one by one,
    the worker waited each round trip in turn). Each answer here waits until all of them have started, so
    answers made one after another never finish."""
    presses = 6

    class Together:
        def __init__(self) -> None:
            self.started: list[str] = []
            self.all_started = asyncio.Event()

        async def answer_button(self, query_id: str, text: str | None, alert: bool) -> None:
            self.started.append(query_id)
            if len(self.started) == presses:
                self.all_started.set()
            await self.all_started.wait()

    async def deliver(update: Update, ctx: HandlerContext) -> bool:
        assert update.press is not None
        ctx.reply("next question")
        ctx.answer_button()
        return True

    answers = Together()
    inbox = UpdateInbox(db, deliver, answers, POLICY, triage=None, concurrency=1)  # one batch
    queries = [
        {
            "update_id": next(_ids),
            "callback_query": {
                "id": f"q{chat}",
                "from": {"id": chat, "is_bot": False, "first_name": "Bo"},
                "chat_instance": "1",
                "data": "i:t:x",
                "message": {"message_id": 3, "date": 1, "chat": {"id": chat, "type": "private", "first_name": "B"}},
            },
        }
        for chat in range(700, 700 + presses)
    ]
    await inbox.store(queries)
    assert await inbox.idle(10)
    assert sorted(answers.started) == sorted(f"q{chat}" for chat in range(700, 700 + presses))
    assert inbox.stats.processed == presses and inbox.stats.batches == 1

"""CPU cost per update inside the bot process, without HTTP: inbox + handler layer, then delivery.

    python benchmarks/inprocess.py [--updates N] [--users M] [--workload W] [--db sqlite|postgres] [--profile out.prof]

Updates are fed straight into `UpdateInbox.store`; the outbox is then drained by the delivery loop into
a transport that answers at once. Prints CPU milliseconds per update for each phase and SQL statements
per update, so a change in the hot path can be measured in seconds, without the Bot API stand-in's noise.
Workloads (`--workload`): `texts` (three texts per customer: a description, a service, a question), and
throughput.py's four: `first` (N new customers' first message), `press` (the same customers then
press the first answer to the question asked; only the presses are measured), `my` and `status` (M
customers who finished an intake, not measured, send `/my` or `/status NUMBER`, N in all).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sqlalchemy import event  # noqa: E402

from bot.app import delivery_hooks  # noqa: E402
from bot.bindings.ptb import PtbRuntime  # noqa: E402
from bot.handlers.routes import build_dispatch  # noqa: E402
from bot.inbox import UpdateInbox  # noqa: E402
from bot.runtime import make_runtime  # noqa: E402
from bot.startup import settle_heap  # noqa: E402
from helpdesk.policy import DeskPolicy  # noqa: E402
from helpdesk.triage import get_triage  # noqa: E402
from scheduler.delivery import DeliveryLimits, OutboxDelivery  # noqa: E402
from storage import migrate  # noqa: E402
from storage.db import Database  # noqa: E402
from tests.handlers.harness import LocalRequest  # noqa: E402
from tests.support.intake import NUMBER, choose  # noqa: E402

TOKEN = "123456:BENCH-token-abcdefghijklmnopqrstuvwxyz0123"
TEXTS = (
    "The printer on floor {i} is jammed and prints nothing at all",
    "Accounting server {i}",
    "It still does not work, what should I press {i}",
)


class InstantTransport:
    """Answers every call at once, as the Bot API would (a message with an id); keeps each chat's last
    message, so a workload can press its buttons."""

    def __init__(self) -> None:
        self.calls = 0
        self.last: dict[Any, dict[str, Any]] = {}

    async def call(self, method: str, payload: dict[str, Any]) -> Any:
        self.calls += 1
        if method == "sendMessage":
            self.last[payload.get("chat_id")] = {**payload, "message_id": self.calls}
        return {
            "message_id": self.calls,
            "date": 1_700_000_000,
            "chat": {"id": payload.get("chat_id"), "type": "private"},
        }

    async def answer_button(self, query_id: str, text: str | None, alert: bool) -> None:
        """Button presses are answered at once too (the runtime would call answerCallbackQuery)."""
        self.calls += 1


def user_of(i: int, users: int) -> dict[str, Any]:
    uid = 1_000_000 + i % users
    return {"id": uid, "is_bot": False, "first_name": f"User{i % users}", "language_code": "en"}


def text_update(update_id: int, user: dict[str, Any], text: str) -> dict[str, Any]:
    message: dict[str, Any] = {
        "message_id": update_id,
        "date": 1_700_000_000,
        "chat": {"id": user["id"], "type": "private", "first_name": user["first_name"]},
        "from": user,
        "text": text,
    }
    if text.startswith("/"):
        message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
    return {"update_id": update_id, "message": message}


def press_update(update_id: int, user: dict[str, Any], asked: dict[str, Any]) -> dict[str, Any] | None:
    """Press the hurried customer's answer (tests/support/intake.py) to the bot's last message; for a
    reply keyboard with Skip, send its text; None when there is nothing to press."""
    markup = asked.get("reply_markup") or {}
    inline = {b["text"]: b.get("callback_data") for row in markup.get("inline_keyboard") or [] for b in row}
    label = choose(list(inline))
    if label is not None:
        return {
            "update_id": update_id,
            "callback_query": {
                "id": f"q{update_id}",
                "from": user,
                "chat_instance": "1",
                "data": inline[label],
                "message": {
                    "message_id": asked["message_id"],
                    "date": 1_700_000_000,
                    "chat": {"id": user["id"], "type": "private", "first_name": user["first_name"]},
                    "text": asked.get("text", ""),
                },
            },
        }
    keys = [b if isinstance(b, str) else b.get("text", "") for row in markup.get("keyboard") or [] for b in row]
    skip = next((k for k in keys if "skip" in k.lower()), None)
    return text_update(update_id, user, skip) if skip else None


def updates(n: int, users: int) -> list[dict[str, Any]]:
    out = []
    turns: dict[int, int] = {}
    for i in range(n):
        uid = 1_000_000 + i % users
        turn = turns.get(uid, 0)
        turns[uid] = turn + 1
        out.append(
            {
                "update_id": 10_000 + i,
                "message": {
                    "message_id": 100 + i,
                    "date": 1_700_000_000,
                    "chat": {"id": uid, "type": "private", "first_name": f"User{i % users}"},
                    "from": {"id": uid, "is_bot": False, "first_name": f"User{i % users}", "language_code": "en"},
                    "text": TEXTS[min(turn, len(TEXTS) - 1)].format(i=i),
                },
            }
        )
    return out


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--updates", type=int, default=1000)
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--batch", type=int, default=100, help="updates per store() call (one getUpdates)")
    parser.add_argument("--profile", help="write a cProfile of both phases here")
    parser.add_argument("--runtime", choices=("aiogram", "ptb"), default="aiogram", help="how updates reach handlers")
    parser.add_argument("--statements", action="store_true", help="list the measured SQL statements, most run first")
    parser.add_argument("--workload", choices=("texts", "first", "press", "my", "status"), default="texts")
    parser.add_argument(
        "--db", choices=("sqlite", "postgres"), default="sqlite", help="postgres: the test server (tests/support)"
    )
    args = parser.parse_args()

    async with contextlib.AsyncExitStack() as stack:
        tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-inproc-"))
        if args.db == "postgres":
            from tests.support.databases import postgres_database

            db = Database(await stack.enter_async_context(postgres_database("bench_")))
        else:
            db = Database(f"sqlite+aiosqlite:///{tmp}/bot.db")
        await migrate.upgrade(db)
        statements = 0

        by_text: dict[str, int] = {}

        @event.listens_for(db.engine.sync_engine, "before_cursor_execute")
        def _count(_conn: Any, _cursor: Any, sql: str, *_a: Any) -> None:
            nonlocal statements
            statements += 1
            if args.statements:
                by_text[sql] = by_text.get(sql, 0) + 1

        if args.runtime == "ptb":  # ptb's Application needs its getMe: answered in-process
            runtime = PtbRuntime(TOKEN, "http://127.0.0.1:9", request=LocalRequest())
            await runtime.start()
        else:
            runtime = make_runtime(args.runtime, TOKEN, "http://127.0.0.1:9")  # no HTTP: nothing calls it
        policy = DeskPolicy(agent_ids=frozenset({7001}), staff_chat_id=-100123)
        triage = get_triage()
        triage.classify("warm up the model")
        transport = InstantTransport()
        inbox = UpdateInbox(db, runtime.deliver_to(build_dispatch("bench_bot")), transport, policy, triage)
        relaxed = DeliveryLimits(per_second=1_000_000, private_interval=0, group_per_minute=1_000_000)
        delivery = OutboxDelivery(db, transport, relaxed, hooks=delivery_hooks(policy))
        await delivery.startup()
        ids = iter(range(10_000, 10**9))

        async def run(batch: list[dict[str, Any]]) -> None:
            for start in range(0, len(batch), args.batch):
                await inbox.store(batch[start : start + args.batch])
            await inbox.idle(300)
            await delivery.drain(300, until_empty=True)

        n = args.updates
        customers = [user_of(i, n) for i in range(n)]
        numbers: dict[int, str] = {}
        if args.workload != "texts":  # the customers' first messages (measured for `first`)
            first = [text_update(next(ids), u, TEXTS[0].format(i=i)) for i, u in enumerate(customers)]
            if args.workload == "first":
                batch = first
            else:
                await run(first)
        if args.workload == "press":
            batch = [press_update(next(ids), u, transport.last[u["id"]]) for u in customers]  # type: ignore[misc]
        elif args.workload in ("my", "status"):  # M customers finish their intake (not measured)
            walking = customers[: args.users]
            await run([p for u in walking if (p := press_update(next(ids), u, transport.last[u["id"]]))])
            for _ in range(12):
                todo = [u for u in walking if not NUMBER.search(transport.last[u["id"]].get("text", ""))]
                if not todo:
                    break
                await run([p for u in todo if (p := press_update(next(ids), u, transport.last[u["id"]]))])
            for u in walking:
                found = NUMBER.search(transport.last[u["id"]].get("text", ""))
                if found is None:
                    raise SystemExit(f"customer {u['id']} has no ticket: {transport.last[u['id']]}")
                numbers[u["id"]] = found.group(0)
            command = (lambda u: "/my") if args.workload == "my" else (lambda u: f"/status {numbers[u['id']]}")
            batch = [text_update(next(ids), u, command(u)) for i in range(n) for u in [walking[i % len(walking)]]]
        elif args.workload == "texts":
            batch = updates(args.updates, args.users)
        settle_heap()  # as the bot does once started
        profiler = cProfile.Profile() if args.profile else None

        if profiler:
            profiler.enable()
        cpu0, wall0, st0 = time.process_time(), time.perf_counter(), statements
        by_text.clear()
        processed0 = inbox.stats.processed
        for start in range(0, len(batch), args.batch):
            await inbox.store(batch[start : start + args.batch])
        await inbox.idle(300)
        cpu1, wall1, st1 = time.process_time(), time.perf_counter(), statements
        await delivery.drain(300, until_empty=True)
        cpu2, wall2, st2 = time.process_time(), time.perf_counter(), statements
        if profiler:
            profiler.disable()
            profiler.dump_stats(args.profile)

        def line(name: str, cpu: float, stmts: int, wall: float) -> str:
            return (
                f"{name:<16}{cpu / n * 1000:6.2f} ms CPU/update {stmts / n:5.1f} statements/update  wall {wall:5.2f} s"
            )

        stats = inbox.stats
        print(
            f"{args.workload}: processed {stats.processed - processed0}/{n} ({stats.batches} batches in all),"
            f" parked {stats.parked}, sent {transport.calls} in all"
        )
        print(line("inbox+handlers:", cpu1 - cpu0, st1 - st0, wall1 - wall0))
        print(line("delivery:", cpu2 - cpu1, st2 - st1, wall2 - wall1))
        print(f"{'total:':<16}{(cpu2 - cpu0) / n * 1000:6.2f} ms CPU/update")
        for sql, count in sorted(by_text.items(), key=lambda kv: -kv[1]):
            print(f"{count:7d}  {' '.join(sql.split())[:160]}")
        await runtime.close()
        await db.dispose()


if __name__ == "__main__":
    asyncio.run(main())

"""CPU cost per update inside the bot process, without HTTP: inbox + handler layer, then delivery.

    python benchmarks/inprocess.py [--updates N] [--users M] [--profile out.prof]

The same workload as throughput.py (three texts per customer: a description, a service, a question), fed
straight into `UpdateInbox.store`; the outbox is then drained by the delivery loop into a transport that
answers at once. Prints CPU milliseconds per update for each phase and SQL statements per update, so a
change in the hot path can be measured in seconds, without the Bot API stand-in's noise.
"""

from __future__ import annotations

import argparse
import asyncio
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

TOKEN = "123456:BENCH-token-abcdefghijklmnopqrstuvwxyz0123"
TEXTS = (
    "The printer on floor {i} is jammed and prints nothing at all",
    "Accounting server {i}",
    "It still does not work, what should I press {i}",
)


class InstantTransport:
    """Answers every call at once, as the Bot API would (a message with an id)."""

    def __init__(self) -> None:
        self.calls = 0

    async def call(self, method: str, payload: dict[str, Any]) -> Any:
        self.calls += 1
        return {
            "message_id": self.calls,
            "date": 1_700_000_000,
            "chat": {"id": payload.get("chat_id"), "type": "private"},
        }


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
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-inproc-") as tmp:
        db = Database(f"sqlite+aiosqlite:///{tmp}/bot.db")
        await migrate.upgrade(db)
        statements = 0

        @event.listens_for(db.engine.sync_engine, "before_cursor_execute")
        def _count(*_a: Any) -> None:
            nonlocal statements
            statements += 1

        if args.runtime == "ptb":  # ptb's Application needs its getMe: answered in-process
            runtime = PtbRuntime(TOKEN, "http://127.0.0.1:9", request=LocalRequest())
            await runtime.start()
        else:
            runtime = make_runtime(args.runtime, TOKEN, "http://127.0.0.1:9")  # no HTTP: nothing calls it
        policy = DeskPolicy(agent_ids=frozenset({7001}), staff_chat_id=-100123)
        triage = get_triage()
        triage.classify("warm up the model")
        inbox = UpdateInbox(db, runtime.deliver_to(build_dispatch("bench_bot")), runtime, policy, triage)
        relaxed = DeliveryLimits(per_second=1_000_000, private_interval=0, group_per_minute=1_000_000)
        transport = InstantTransport()
        delivery = OutboxDelivery(db, transport, relaxed, hooks=delivery_hooks(policy))
        await delivery.startup()
        batch = updates(args.updates, args.users)
        settle_heap()  # as the bot does once started
        profiler = cProfile.Profile() if args.profile else None

        if profiler:
            profiler.enable()
        cpu0, wall0, st0 = time.process_time(), time.perf_counter(), statements
        for start in range(0, len(batch), args.batch):
            await inbox.store(batch[start : start + args.batch])
        await inbox.idle(300)
        cpu1, wall1, st1 = time.process_time(), time.perf_counter(), statements
        await delivery.drain(300, until_empty=True)
        cpu2, wall2, st2 = time.process_time(), time.perf_counter(), statements
        if profiler:
            profiler.disable()
            profiler.dump_stats(args.profile)

        n = args.updates

        def line(name: str, cpu: float, stmts: int, wall: float) -> str:
            return (
                f"{name:<16}{cpu / n * 1000:6.2f} ms CPU/update {stmts / n:5.1f} statements/update  wall {wall:5.2f} s"
            )

        stats = inbox.stats
        print(
            f"processed {stats.processed}/{n} in {stats.batches} batches, parked {stats.parked}, sent {transport.calls}"
        )
        print(line("inbox+handlers:", cpu1 - cpu0, st1 - st0, wall1 - wall0))
        print(line("delivery:", cpu2 - cpu1, st2 - st1, wall2 - wall1))
        print(f"{'total:':<16}{(cpu2 - cpu0) / n * 1000:6.2f} ms CPU/update")
        await runtime.close()
        await db.dispose()


if __name__ == "__main__":
    asyncio.run(main())

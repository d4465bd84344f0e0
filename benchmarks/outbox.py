"""Outbox delivery benchmark: N notifications to M chats through the Bot API stand-in over real HTTP.

Run from the repository root: ``python benchmarks/outbox.py`` (5,000 notifications to 1,000 private
chats at the configured OUTBOX_RATE_PER_SECOND, 30 by default, so it takes about three minutes).

The stand-in runs in its own process (so its bookkeeping does not share the bot's event loop) and
enforces Telegram's flood limits (30 messages a second, one a second per private chat), answering 429
as Telegram would: the "429s received" line shows whether the pacing is right. Delivery runs exactly as
in the bot (``OutboxDelivery.run`` with aiogram's HTTP session). Printed: achieved rate vs the limit,
the worst second, the smallest gap within one chat, 429s received, duplicates and losses, the wall
time and the machine. ``--json`` prints the same as one JSON object.

Options: ``--messages``, ``--chats``, ``--rate``, ``--database URL`` (default: a fresh SQLite file;
``postgres`` makes a fresh database on the test server, ``TEST_POSTGRES_URL``, and drops it after; or
the URL of an existing empty database), ``--workers 2`` (PostgreSQL: two delivery workers sharing the
outbox through row locks, each with its own connection pool and half the rate; they share this
process's event loop), ``--faults 429=7,5xx=11,lost=50`` (injected on top of the enforced limits),
``--no-enforce``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TOKEN = "123456:TEST-token-abcdefghijklmnopqrstuvwxyz0123"
FIRST_CHAT = 10_000_001


# -- the stand-in, in a child process --------------------------------------------------------------------


def _standin(conn: Any, chats: int, enforce: bool, faults: dict[str, int]) -> None:
    asyncio.run(_standin_main(conn, chats, enforce, faults))


async def _standin_main(conn: Any, chats: int, enforce: bool, faults: dict[str, int]) -> None:
    from tests.support.botapi import FakeBotAPI

    async with FakeBotAPI(token=TOKEN) as api:
        for n in range(chats):
            api.user(FIRST_CHAT + n, f"User{n}", started=True)
        api.limits.enforce = enforce
        api.faults.every_nth_429 = faults.get("429", 0)
        api.faults.every_nth_5xx = faults.get("5xx", 0)
        api.faults.every_nth_lost = faults.get("lost", 0)
        conn.send(api.base_url)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, conn.recv)  # "report"
        conn.send(_report(api))


def _report(api: Any) -> dict[str, Any]:
    sends = [c for c in api.calls if c.method == "sendMessage"]
    ok = [c for c in sends if c.ok]
    texts: dict[int, list[str]] = {}
    for chat in api.chats.values():
        texts[chat.id] = [m.content for m in chat.bot_messages]
    return {
        "calls": len(sends),
        "ok": len(ok),
        "first_at": min((c.at for c in ok), default=0.0),
        "last_at": max((c.at for c in ok), default=0.0),
        "max_per_second": api.max_sends_per_second(),
        "min_interval_per_chat": api.min_interval_per_chat(),
        "errors": {
            "429": sum(1 for c in sends if c.status == 429),
            "429_flood": sum(1 for c in sends if c.status == 429 and not c.injected),
            "5xx": sum(1 for c in sends if c.status and c.status >= 500),
            "other": sum(1 for c in sends if c.status and c.status not in (200, 429) and c.status < 500),
        },
        "lost": api.faults.lost,
        "duplicates": len(api.duplicate_sends()),
        "texts": texts,
    }


# -- the bot side ----------------------------------------------------------------------------------------


async def _fill(url: str, messages: int, chats: int) -> None:
    from sqlalchemy import insert

    from helpdesk.clock import now_utc
    from storage import migrate
    from storage.db import Database
    from storage.models import OutboxMessage

    db = Database(url)
    await migrate.upgrade(db)
    now = now_utc()
    rows = []
    for n in range(messages):
        chat = FIRST_CHAT + n % chats
        text = f"Notification {n // chats + 1} for chat {chat}: your ticket has news."
        rows.append(
            {
                "chat_id": chat,
                "method": "sendMessage",
                "payload": {"chat_id": chat, "text": text, "parse_mode": "HTML"},
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
                "reply_to_card": False,
                "edits_card": False,
            }
        )
    async with db.engine.begin() as connection:
        for start in range(0, len(rows), 1000):
            await connection.execute(insert(OutboxMessage), rows[start : start + 1000])
    await db.dispose()


async def _deliver(url: str, api_url: str, rate: float, workers: int) -> dict[str, Any]:
    from bot.api_transport import ApiTransport
    from bot.app import delivery_hooks
    from bot.bindings.aiogram3 import AiogramRuntime
    from bot.config import Settings
    from helpdesk.policy import DeskPolicy
    from scheduler.delivery import DeliveryLimits, OutboxDelivery
    from storage.db import Database
    from storage.outbox_rows import bell

    bell.reset()
    settings = Settings(_env_file=None)
    limits = DeliveryLimits(
        per_second=rate / workers,
        private_interval=settings.outbox_private_interval.total_seconds(),
        group_per_minute=settings.outbox_group_per_minute,
        max_attempts=settings.outbox_max_attempts,
        poll_every=settings.outbox_poll_every.total_seconds(),
    )
    dbs = [Database(url) for _ in range(workers)]
    bots = [AiogramRuntime(TOKEN, api_url) for _ in range(workers)]
    senders = [
        OutboxDelivery(db, ApiTransport(bot), limits, hooks=delivery_hooks(DeskPolicy()))
        for db, bot in zip(dbs, bots, strict=True)
    ]
    stop = asyncio.Event()
    started = time.perf_counter()
    tasks = [asyncio.create_task(s.run(stop)) for s in senders]
    try:
        while await senders[0].pending_count() or any(s._active for s in senders):  # noqa: ASYNC110
            await asyncio.sleep(0.1)
    finally:
        wall = time.perf_counter() - started
        stop.set()
        from storage.outbox_rows import bell as _bell

        _bell.ring()
        await asyncio.gather(*tasks, return_exceptions=True)
        for bot in bots:
            await bot.close()
        for db in dbs:
            await db.dispose()
    stats = [s.stats for s in senders]
    return {
        "wall": wall,
        "sent": sum(s.sent for s in stats),
        "calls": sum(s.calls for s in stats),
        "retried_429": sum(s.retried_429 for s in stats),
        "retried_transient": sum(s.retried_transient for s in stats),
        "unknown_outcome": sum(s.unknown_outcome for s in stats),
        "failed": sum(s.failed for s in stats),
    }


def _machine() -> dict[str, Any]:
    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
    }


def _parse_faults(spec: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        key, _, value = part.partition("=")
        out[key.strip()] = int(value)
    return out


def main() -> int:
    from bot.config import Settings
    from storage.db import normalise_url

    configured = Settings(_env_file=None).outbox_rate_per_second
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--chats", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=configured, help=f"messages/s (default {configured})")
    parser.add_argument("--database", default=None, help="database URL (default: a fresh SQLite file)")
    parser.add_argument("--workers", type=int, default=1, help="delivery workers (PostgreSQL)")
    parser.add_argument("--faults", default="", help="e.g. 429=7,5xx=11,lost=50")
    parser.add_argument("--no-enforce", action="store_true", help="the stand-in does not enforce flood limits")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    tmp = tempfile.TemporaryDirectory(prefix="outbox-bench-")
    made_database = None
    if args.database == "postgres":
        from tests.support.databases import create_postgres_database

        made_database, url = asyncio.run(create_postgres_database("outbox_bench_"))
    else:
        url = normalise_url(args.database) if args.database else f"sqlite+aiosqlite:///{tmp.name}/bench.db"
    if args.workers > 1 and url.startswith("sqlite"):
        parser.error("several delivery workers need PostgreSQL (--database postgres)")

    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    standin = ctx.Process(target=_standin, args=(child, args.chats, not args.no_enforce, _parse_faults(args.faults)))
    standin.start()
    try:
        api_url = parent.recv()
        asyncio.run(_fill(url, args.messages, args.chats))
        bot = asyncio.run(_deliver(url, api_url, args.rate, args.workers))
        parent.send("report")
        api = parent.recv()
    finally:
        standin.join(timeout=30)
        if standin.is_alive():
            standin.kill()
        tmp.cleanup()
        if made_database:
            from tests.support.databases import drop_postgres_database

            asyncio.run(drop_postgres_database(made_database))

    expected_per_chat = {}
    for n in range(args.messages):
        chat = FIRST_CHAT + n % args.chats
        expected_per_chat.setdefault(chat, []).append(f"Notification {n // args.chats + 1} for chat {chat}")
    delivered = api["texts"]
    missing = out_of_order = 0
    for chat, wanted in expected_per_chat.items():
        got = [t.split(":")[0] for t in delivered.get(chat, [])]
        unique = list(dict.fromkeys(got))
        missing += len(set(wanted) - set(got))
        out_of_order += unique != [w for w in wanted if w in set(got)]
    span = api["last_at"] - api["first_at"]
    achieved = (api["ok"] - 1) / span if span > 0 else float("nan")
    result = {
        "messages": args.messages,
        "chats": args.chats,
        "database": "SQLite" if url.startswith("sqlite") else "PostgreSQL",
        "workers": args.workers,
        "configured_rate": args.rate,
        "achieved_rate": round(achieved, 2),
        "max_sends_in_any_second": api["max_per_second"],
        "min_gap_in_one_chat_s": round(api["min_interval_per_chat"] or 0, 3),
        "http_calls": api["calls"],
        "received_429": api["errors"]["429"],
        "received_429_flood": api["errors"]["429_flood"],
        "received_5xx": api["errors"]["5xx"],
        "lost_answers": api["lost"],
        "unknown_outcomes_counted": bot["unknown_outcome"],
        "duplicates": api["duplicates"],
        "missing": missing,
        "chats_out_of_order": out_of_order,
        "wall_time_s": round(bot["wall"], 2),
        "ideal_time_s": round(args.messages / args.rate, 2),
        "machine": _machine(),
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        m = result["machine"]
        print(f"outbox delivery: {args.messages} notifications to {args.chats} chats via the stand-in (HTTP)")
        print(f"  database            {result['database']}, {args.workers} delivery worker(s)")
        print(f"  rate                {result['achieved_rate']}/s achieved vs {args.rate}/s configured")
        print(f"  worst second        {result['max_sends_in_any_second']} sends")
        print(f"  per private chat    smallest gap {result['min_gap_in_one_chat_s']} s")
        print(f"  429s received       {result['received_429']} ({result['received_429_flood']} for flooding)")
        print(f"  5xx received        {result['received_5xx']}; lost answers {result['lost_answers']}")
        print(f"  duplicates          {result['duplicates']} (unknown outcomes counted: {bot['unknown_outcome']})")
        print(f"  missing             {missing}; chats out of order {out_of_order}")
        print(f"  wall time           {result['wall_time_s']} s (ideal at the limit: {result['ideal_time_s']} s)")
        print(f"  machine             {m['platform']}, {m['cpus']} CPUs, {m['processor']}, Python {m['python']}")
    ok = not missing and not out_of_order and not (result["duplicates"] - bot["unknown_outcome"])
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())

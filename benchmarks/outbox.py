"""Outbox delivery benchmark: N notifications to M chats through the Bot API stand-in over real HTTP.

Run from the repository root: ``python benchmarks/outbox.py`` (5,000 notifications to 1,000 private
chats and 40 to each of 3 groups, at the configured OUTBOX_RATE_PER_SECOND, 30 by default, so it takes
about three minutes).

The stand-in runs in its own process (so its bookkeeping does not share the bot's event loop) and
enforces Telegram's flood limits (30 messages a second, one a second per private chat, 20 a minute per
group), answering 429 as Telegram would: the "429s received" line shows whether the pacing is right,
and which limit each refusal was for. Delivery runs exactly as in the bot (``OutboxDelivery.run`` with
aiogram's HTTP session), in ``--processes`` separate processes, each configured with the deployment's
figures (OUTBOX_RATE_PER_SECOND and the others are deployment-wide: on PostgreSQL the processes keep
them together). Printed: the combined rate achieved while the queue was full vs the limit, the worst
second, the smallest gap within one private chat and the gaps under OUTBOX_PRIVATE_INTERVAL, the most
sends to one group in a minute, 429s received, duplicates and losses, the wall time, the machine and
its load. ``--json`` prints the same as one JSON object.

Options: ``--messages`` (to private chats), ``--chats``, ``--groups``, ``--group-messages`` (to each
group), ``--rate``, ``--database URL`` (default: a fresh SQLite file; ``postgres`` makes a fresh
database on the test server, ``TEST_POSTGRES_URL``, and drops it after; or the URL of an existing empty
database), ``--processes 2`` (PostgreSQL: delivery processes sharing the outbox and Telegram's limits
through the database), ``--faults 429=7,5xx=11,lost=50`` (injected on top of the enforced limits),
``--no-enforce``.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
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
FIRST_GROUP = -1_001_000_000_001  # supergroups: FIRST_GROUP - n
#: a send to a private chat this much sooner than OUTBOX_PRIVATE_INTERVAL after the last counts as too soon
JITTER = 0.05


# -- the stand-in, in a child process --------------------------------------------------------------------


def _standin(conn: Any, chats: int, groups: int, enforce: bool, faults: dict[str, int]) -> None:
    asyncio.run(_standin_main(conn, chats, groups, enforce, faults))


async def _standin_main(conn: Any, chats: int, groups: int, enforce: bool, faults: dict[str, int]) -> None:
    from tests.support.botapi import FakeBotAPI

    async with FakeBotAPI(token=TOKEN) as api:
        for n in range(chats):
            api.user(FIRST_CHAT + n, f"User{n}", started=True)
        for n in range(groups):
            api.add_group(FIRST_GROUP - n, f"Group{n}")
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
    private: dict[int, list[float]] = {}
    for chat in api.chats.values():
        texts[chat.id] = [m.content for m in chat.bot_messages]
    for call in ok:
        if isinstance(call.chat_id, int) and call.chat_id > 0:
            private.setdefault(call.chat_id, []).append(call.at)
    gaps = [b - a for times in private.values() for a, b in itertools.pairwise(times)]
    private_ok = [at for times in private.values() for at in times]
    refusals: dict[str, int] = {}
    for refusal in api.flood.refusals:
        refusals[refusal.scope] = refusals.get(refusal.scope, 0) + 1
    return {
        "calls": len(sends),
        "ok": len(ok),
        "first_at": min((c.at for c in ok), default=0.0),
        "last_at": max((c.at for c in ok), default=0.0),
        "last_private_at": max(private_ok, default=0.0),
        "private_gaps": gaps,
        "flood_refusals": refusals,
        "sends_at": sorted(c.at for c in ok),
        "max_per_second": api.max_sends_per_second(),
        "max_group_per_minute": api.max_sends_per_minute(),
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


def _plan(messages: int, chats: int, groups: int, group_messages: int) -> list[tuple[int, str]]:
    """(chat, text) in the order they are queued: the groups' messages spread evenly among the private ones."""
    rows = []
    for n in range(messages):
        chat = FIRST_CHAT + n % chats
        rows.append((chat, f"Notification {n // chats + 1} for chat {chat}: your ticket has news."))
    spread = []
    for n in range(group_messages * groups):
        group = FIRST_GROUP - n % groups
        spread.append((n * messages // max(1, group_messages * groups), (group, f"Card {n // groups + 1} for {group}")))
    for offset, (position, row) in enumerate(spread):
        rows.insert(position + offset, row)
    return rows


async def _fill(url: str, plan: list[tuple[int, str]]) -> None:
    from sqlalchemy import insert

    from helpdesk.clock import now_utc
    from storage import migrate
    from storage.db import Database
    from storage.models import OutboxMessage

    db = Database(url)
    await migrate.upgrade(db)
    now = now_utc()
    rows = []
    for chat, text in plan:
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


def _delivery_process(url: str, api_url: str, rate: float, results: Any) -> None:
    results.put(asyncio.run(_deliver(url, api_url, rate)))


async def _deliver(url: str, api_url: str, rate: float) -> dict[str, Any]:
    """One delivery process, configured with the deployment's figures, until the outbox is empty."""
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
        per_second=rate,
        private_interval=settings.outbox_private_interval.total_seconds(),
        group_per_minute=settings.outbox_group_per_minute,
        max_attempts=settings.outbox_max_attempts,
        poll_every=settings.outbox_poll_every.total_seconds(),
    )
    db = Database(url)
    bot = AiogramRuntime(TOKEN, api_url)
    sender = OutboxDelivery(db, ApiTransport(bot), limits, hooks=delivery_hooks(DeskPolicy()))
    stop = asyncio.Event()
    started, cpu = time.perf_counter(), time.process_time()
    task = asyncio.create_task(sender.run(stop))
    try:
        while await sender.pending_count() or sender._active:  # noqa: ASYNC110
            await asyncio.sleep(0.1)
    finally:
        wall = time.perf_counter() - started
        stop.set()
        bell.ring()
        await asyncio.gather(task, return_exceptions=True)
        await bot.close()
        await db.dispose()
    stats = sender.stats
    rate_limiter = getattr(sender.pacing, "rate", None)
    return {
        "wall": wall,
        "cpu": time.process_time() - cpu,
        "sent": stats.sent,
        "calls": stats.calls,
        "retried_429": stats.retried_429,
        "retried_transient": stats.retried_transient,
        "unknown_outcome": stats.unknown_outcome,
        "failed": stats.failed,
        "reservations": getattr(rate_limiter, "reservations", None),
        "missed": getattr(rate_limiter, "missed", None),
    }


def _deliver_in(processes: int, url: str, api_url: str, rate: float) -> list[dict[str, Any]]:
    """`processes` delivery processes at once; their results."""
    ctx = mp.get_context("spawn")
    results = ctx.Queue()
    children = [ctx.Process(target=_delivery_process, args=(url, api_url, rate, results)) for _ in range(processes)]
    for child in children:
        child.start()
    found = [results.get() for _ in children]
    for child in children:
        child.join(timeout=30)
    return found


def _load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3]) if Path("/proc/loadavg").exists() else "?"


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

    settings = Settings(_env_file=None)
    configured = settings.outbox_rate_per_second
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=5000, help="notifications to private chats")
    parser.add_argument("--chats", type=int, default=1000, help="private chats")
    parser.add_argument("--groups", type=int, default=3)
    parser.add_argument("--group-messages", type=int, default=40, help="messages to each group")
    parser.add_argument("--rate", type=float, default=configured, help=f"messages/s in all (default {configured})")
    parser.add_argument("--database", default=None, help="database URL (default: a fresh SQLite file)")
    parser.add_argument("--processes", type=int, default=1, help="delivery processes (PostgreSQL for more than 1)")
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
    if args.processes > 1 and url.startswith("sqlite"):
        parser.error("several delivery processes need PostgreSQL (--database postgres)")

    plan = _plan(args.messages, args.chats, args.groups, args.group_messages)
    load_before = _load()
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    faults = _parse_faults(args.faults)
    standin = ctx.Process(target=_standin, args=(child, args.chats, args.groups, not args.no_enforce, faults))
    standin.start()
    try:
        api_url = parent.recv()
        asyncio.run(_fill(url, plan))
        bots = _deliver_in(args.processes, url, api_url, args.rate)
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
    load_after = _load()

    def total(key: str) -> int:
        return sum(b[key] for b in bots)

    expected_per_chat: dict[int, list[str]] = {}
    for chat, text in plan:
        expected_per_chat.setdefault(chat, []).append(text.split(":")[0])
    delivered = api["texts"]
    missing = out_of_order = 0
    for chat, wanted in expected_per_chat.items():
        got = [t.split(":")[0] for t in delivered.get(chat, [])]
        unique = list(dict.fromkeys(got))
        missing += len(set(wanted) - set(got))
        out_of_order += unique != [w for w in wanted if w in set(got)]
    # the combined rate while the queue was full: until the last private send (after it, only the groups'
    # last messages wait for their per-minute budget)
    saturated = [at for at in api["sends_at"] if at <= api["last_private_at"]]
    span = saturated[-1] - saturated[0] if len(saturated) > 1 else 0.0
    achieved = (len(saturated) - 1) / span if span > 0 else float("nan")
    interval = settings.outbox_private_interval.total_seconds()
    too_soon = sum(1 for gap in api["private_gaps"] if gap < interval - JITTER)
    group_limit = settings.outbox_group_per_minute
    refusals = api["flood_refusals"]
    result = {
        "messages": len(plan),
        "private_messages": args.messages,
        "chats": args.chats,
        "groups": args.groups,
        "group_messages": args.group_messages,
        "database": "SQLite" if url.startswith("sqlite") else "PostgreSQL",
        "processes": args.processes,
        "configured_rate": args.rate,
        "achieved_rate": round(achieved, 2),
        "achieved_vs_limit": round(achieved / args.rate, 3) if args.rate else None,
        "max_sends_in_any_second": api["max_per_second"],
        "min_gap_in_one_chat_s": round(api["min_interval_per_chat"] or 0, 3),
        "private_gaps_under_interval": too_soon,
        "max_sends_to_one_group_in_a_minute": api["max_group_per_minute"],
        "groups_over_limit": int(api["max_group_per_minute"] > group_limit),
        "http_calls": api["calls"],
        "received_429": api["errors"]["429"],
        "received_429_flood": api["errors"]["429_flood"],
        "flood_refusals_by_limit": refusals,
        "received_5xx": api["errors"]["5xx"],
        "lost_answers": api["lost"],
        "unknown_outcomes_counted": total("unknown_outcome"),
        "duplicates": api["duplicates"],
        "missing": missing,
        "chats_out_of_order": out_of_order,
        "wall_time_s": round(max(b["wall"] for b in bots), 2),
        "ideal_time_s": round(len(plan) / args.rate, 2),
        "sent_per_process": [b["sent"] for b in bots],
        "cpu_per_process_s": [round(b["cpu"], 2) for b in bots],
        "rate_reservations_per_process": [b["reservations"] for b in bots],
        "rate_slots_missed_per_process": [b["missed"] for b in bots],
        "load_average_before_after": [load_before, load_after],
        "machine": _machine(),
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        m = result["machine"]
        by_limit = ", ".join(f"{scope} {count}" for scope, count in sorted(refusals.items())) or "none"
        print(
            f"outbox delivery: {args.messages} notifications to {args.chats} private chats and "
            f"{args.group_messages} to each of {args.groups} groups via the stand-in (HTTP)"
        )
        print(
            f"  database            {result['database']}, {args.processes} delivery process(es), {args.rate}/s in all"
        )
        print(
            f"  combined rate       {result['achieved_rate']}/s while the queue was full "
            f"({result['achieved_vs_limit']} of {args.rate}/s); sent per process {result['sent_per_process']}"
        )
        print(f"  worst second        {result['max_sends_in_any_second']} sends")
        print(
            f"  per private chat    smallest gap {result['min_gap_in_one_chat_s']} s; "
            f"{too_soon} gaps under {interval:g} s (- {JITTER} s jitter)"
        )
        print(
            f"  per group           at most {result['max_sends_to_one_group_in_a_minute']} sends in a minute "
            f"(limit {group_limit}); groups over it: {result['groups_over_limit']}"
        )
        print(
            f"  429s received       {result['received_429']} ({result['received_429_flood']} for flooding: {by_limit})"
        )
        print(f"  5xx received        {result['received_5xx']}; lost answers {result['lost_answers']}")
        print(f"  duplicates          {result['duplicates']} (unknown outcomes counted: {total('unknown_outcome')})")
        print(f"  missing             {missing}; chats out of order {out_of_order}")
        print(f"  wall time           {result['wall_time_s']} s (ideal at the limit: {result['ideal_time_s']} s)")
        print(
            f"  delivery CPU        {result['cpu_per_process_s']} s per process; shared-rate statements "
            f"{result['rate_reservations_per_process']}, "
            f"slots given up (woke late) {result['rate_slots_missed_per_process']}"
        )
        print(f"  machine             {m['platform']}, {m['cpus']} CPUs, {m['processor']}, Python {m['python']}")
        print(f"  load average        {load_before} before, {load_after} after (1, 5, 15 min)")
    ok = not missing and not out_of_order and not (result["duplicates"] - total("unknown_outcome"))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())

"""Throughput of the whole bot against a bare echo bot, through the Bot API stand-in, per kind of update.

    python benchmarks/throughput.py [--updates N] [--users M] [--db sqlite|postgres|both] [--processes 1|2]
                                    [--limits relaxed|telegram|both] [--runtime aiogram|ptb|both]
                                    [--workloads first,press,my,status] [--rounds R]

Each workload queues N updates at the stand-in (tests/support/botapi.py) at once; each bot under test
long-polls them and answers every one:
- first:  a new customer's first message (N customers): ours starts an intake (triage, a customer and a
          draft written) and asks the first question;
- press:  a button press in the middle of that intake (the same N customers, each presses the first
          answer to the question asked): ours moves the draft on and asks the next question;
- my:     `/my` from M customers with a registered ticket each (N/M each): ours lists their tickets;
- status: `/status NUMBER` of their own ticket from the same M customers: ours shows the ticket.
Before `my`, our bot's first M customers finish their intake through the stand-in (not timed), so
every `/my` and `/status` reads a real ticket.

The bots:
- echo:  the bare bot of the runtime measured: benchmarks/echo_bot.py (aiogram's Dispatcher +
         start_polling, `message.answer(text)`; a press: `query.answer()` and a message) or
         benchmarks/echo_ptb.py (python-telegram-bot's Application + run_polling);
- ours:  `python -m bot` with BOT_RUNTIME set to that runtime, the full stack: durable inbox, the
         handler layer, the database, and the reply through the outbox and its delivery loop.
All bots run at once, each against its own stand-in, and each workload runs on the echo bot and then on
ours (SQLite, then PostgreSQL) back to back, so the ratios compare figures taken in the same minute.
`--runtime ptb` measures our bot on python-telegram-bot against the ptb echo bot, `both` measures each
runtime against its own echo bot in the same run.
Reported per workload: updates/s (N / time from the first update queued to the last reply seen; a reply
is a sendMessage to the chat), the ratio to the echo bot, p50/p99 latency (queued at the stand-in →
the reply to that chat, k-th update of a chat paired with its k-th reply), the CPU the bot process used
per update, and the machine with its load average before and after.

Our bot paces its sends as Telegram demands: OUTBOX_RATE_PER_SECOND (default 30 messages/s in all)
and OUTBOX_PRIVATE_INTERVAL (default 1 s between messages to one private chat). With those limits its
rate is capped at 30 updates/s by design, whatever the machinery can do; `--limits relaxed` (default)
raises them so the machinery is measured, `telegram` keeps the defaults, `both` runs the two.
`--processes 2` runs two bot processes in webhook mode behind a small round-robin proxy.

`--rounds R` runs the workloads R times over (each round's `first` and `press` with new customers) and
reports per bot and workload the median ratio with its range and the median CPU per update: one round
lasts about a second per bot, so a burst of another process's work on the shared machine moves a single
ratio by 0.1-0.2; the median of several rounds is the figure to quote.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from statistics import median
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks import stacks  # noqa: E402
from tests.support.botapi import FakeBotAPI  # noqa: E402
from tests.support.botproc import DEFAULT_TOKEN, BotFactory, BotProcess  # noqa: E402
from tests.support.intake import choose, finish_intake  # noqa: E402
from tests.support.users import auto_entities  # noqa: E402

RELAXED = {"OUTBOX_RATE_PER_SECOND": "100000", "OUTBOX_PRIVATE_INTERVAL": "0s", "OUTBOX_GROUP_PER_MINUTE": "100000"}
TELEGRAM = {"OUTBOX_RATE_PER_SECOND": "30", "OUTBOX_PRIVATE_INTERVAL": "1s", "OUTBOX_GROUP_PER_MINUTE": "20"}
FIRST_TEXT = "The printer on floor {i} is jammed and prints nothing at all"
WORKLOADS = ("first", "press", "my", "status")
TITLES = {
    "first": "a new customer's first message",
    "press": "a button press mid-intake",
    "my": "/my",
    "status": "/status NUMBER",
}
FIRST_USER_ID = 1_000_000
ROUND_USERS = 100_000  # each round's new customers start this far after the previous round's


@dataclass
class Result:
    name: str
    updates: int
    seconds: float
    latencies: list[float]
    note: str = ""
    cpu_seconds: float = 0.0  # CPU time the bot process(es) used meanwhile
    peak_mb: float = 0.0  # the largest resident memory of the bot process(es)
    load: str = ""  # the load average before → after

    @property
    def rate(self) -> float:
        return self.updates / self.seconds if self.seconds > 0 else 0.0

    def pct(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    def line(self) -> str:
        return (
            f"{self.name:<40} {self.rate:8.1f} updates/s   p50 {self.pct(0.5):7.1f} ms   p99 {self.pct(0.99):7.1f} ms"
            f"   ({self.updates} in {self.seconds:.2f} s; bot CPU {self.cpu_per_update:.2f} ms/update,"
            f" peak RSS {self.peak_mb:.0f} MB; load {self.load}){self.note}"
        )

    @property
    def cpu_per_update(self) -> float:
        return self.cpu_seconds / self.updates * 1000 if self.updates else float("nan")


def peak_rss_mb(pids: list[int]) -> float:
    """The largest peak resident set (VmHWM) among the processes, in MB (Linux /proc; 0 elsewhere)."""
    peak = 0.0
    for pid in pids:
        with contextlib.suppress(OSError, ValueError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]) / 1024)
    return peak


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of the processes so far (Linux /proc; 0 elsewhere)."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    for pid in pids:
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def load_average() -> str:
    """The 1-minute load average (the machine is shared: read the figures beside it)."""
    with contextlib.suppress(OSError):
        return f"{os.getloadavg()[0]:.1f}"
    return "?"


def machine() -> str:
    cpu = platform.processor() or ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return f"{platform.platform()}; {os.cpu_count()} CPUs ({cpu or 'unknown CPU'}); Python {platform.python_version()}"


# -- the bots under test -------------------------------------------------------------------------------


@dataclass
class Stand:
    """One bot (echo or ours) with its own stand-in, alive for the whole run."""

    name: str
    api: FakeBotAPI
    procs: list[BotProcess]
    ours: bool
    numbers: dict[int, str] = field(default_factory=dict)  # customer → their ticket (ours, before `my`)

    @property
    def pids(self) -> list[int]:
        return [p.proc.pid for p in self.procs if p.proc is not None]


ECHO_BOTS = {"aiogram": "echo_bot.py", "ptb": "echo_ptb.py"}


async def echo_stand(stack: contextlib.AsyncExitStack, runtime: str) -> Stand:
    api = await stack.enter_async_context(FakeBotAPI(token=DEFAULT_TOKEN))
    api.limits.enforce = False  # the bot's own OUTBOX_* pacing is measured, not Telegram's refusals
    workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-echo-")))
    proc = BotProcess(
        api.base_url,
        DEFAULT_TOKEN,
        "unused",
        workdir=workdir,
        name="echo",
        command=[sys.executable, str(REPO / "benchmarks" / ECHO_BOTS[runtime])],
    )
    proc.start()
    stack.push_async_callback(proc.terminate, 5)
    await proc.wait_ready(api, 30)
    return Stand(f"{runtime} echo bot (no database)", api, [proc], ours=False)


async def our_stand(
    stack: contextlib.AsyncExitStack, args: argparse.Namespace, db: str, limits: str, runtime: str
) -> Stand:
    env = dict(RELAXED if limits == "relaxed" else TELEGRAM)
    env.update(LOG_LEVEL="WARNING", POLL_TIMEOUT="10", BOT_RUNTIME=runtime)
    api = await stack.enter_async_context(FakeBotAPI(token=DEFAULT_TOKEN))
    api.limits.enforce = False  # the bot's own OUTBOX_* pacing is measured, not Telegram's refusals
    workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-bot-")))
    if db == "postgres":
        from tests.support.databases import postgres_database

        url = await stack.enter_async_context(postgres_database("bench_"))
    else:
        url = f"sqlite+aiosqlite:///{workdir / 'bot.db'}"
    factory = BotFactory(api, workdir)
    stack.push_async_callback(factory.aclose)
    procs: list[BotProcess] = []
    if args.processes == 1:
        procs.append(factory(url, env, name="bot"))
    else:
        ports = [_free_port() for _ in range(args.processes)]
        proxy = RoundRobin([f"http://127.0.0.1:{p}" for p in ports])
        public = await proxy.start()
        stack.push_async_callback(proxy.stop)
        for n, port in enumerate(ports):
            hook = {"WEBHOOK_URL": public, "WEBHOOK_SECRET": "bench-secret-0123456789", "WEBHOOK_PORT": str(port)}
            hook["WEBHOOK_HOST"] = "127.0.0.1"
            procs.append(factory(url, {**env, **hook}, name=f"bot{n + 1}"))
    for proc in procs:
        proc.start()
    for proc in procs:
        stack.push_async_callback(proc.terminate, 10)
    for proc in procs:
        await proc.wait_ready(api, 60)
    await asyncio.sleep(1.0)  # every process up (webhook mode: the second's setWebhook)
    where = "SQLite" if db == "sqlite" else "PostgreSQL"
    mode = "" if args.processes == 1 else f", {args.processes} processes"
    pacing = "" if limits == "relaxed" else ", Telegram's pacing"
    return Stand(f"ours on {runtime} ({where}{mode}{pacing})", api, procs, ours=True)


# -- the workloads ---------------------------------------------------------------------------------------


def customers(api: FakeBotAPI, count: int, round_: int = 0) -> list[Any]:
    """The round's customers: round 0's first ones also hold the tickets /my and /status read."""
    base = FIRST_USER_ID + round_ * ROUND_USERS
    return [api.user(base + u, f"User{u}", language_code="en") for u in range(count)]


def queue_text(api: FakeBotAPI, user: Any, text: str) -> None:
    fields: dict[str, Any] = {"text": text}
    if entities := auto_entities(text):
        fields["entities"] = entities
    api.post_incoming(user.id, fields, sender=user.data)


def queue_press(api: FakeBotAPI, user: Any, stand: Stand) -> None:
    """Press the first answer to the question the bot asked last (the echo bot's reply: any data)."""
    asked = user.last
    if asked is None:
        raise AssertionError(f"{stand.name}: no message to press a button on in chat {user.id}")
    data = "pressed"
    if stand.ours:
        label = choose(asked.buttons)
        if label is None:
            raise AssertionError(f"{stand.name}: no button to press in chat {user.id}:\n{user.chat.history_text()}")
        data = asked.button(label)["callback_data"]
    api.new_callback_query(user.data, asked, data)


async def prepare_tickets(stand: Stand, count: int, timeout: float) -> None:
    """Ours: the first `count` customers finish their intake (not timed), so /my and /status read a ticket."""
    if not stand.ours or stand.numbers:
        return
    users = customers(stand.api, count)
    for user in users:
        user.skip()
    numbers = await asyncio.gather(*(finish_intake(u, timeout, current=u.last) for u in users))
    stand.numbers = {u.id: n for u, n in zip(users, numbers, strict=True)}
    await stand.api.wait_quiet(1.0, timeout)  # the staff cards and the rest delivered before measuring


def start_py_spy(stand: Stand, workload: str, folder: str) -> list[subprocess.Popen[bytes]]:
    """py-spy on our bot process(es) while the workload runs (benchmarks/stacks.py)."""
    tag = stand.name.split("(")[-1].split(")")[0].split(",")[0].lower()
    return stacks.record({pid: Path(folder) / f"{workload}-{tag}-{pid}.txt" for pid in stand.pids})


async def run_workload(stand: Stand, workload: str, args: argparse.Namespace, round_: int = 0) -> Result:
    """Queue the workload's updates at once; wait for one reply per update; measure."""
    api = stand.api
    if workload in ("my", "status"):
        await prepare_tickets(stand, args.users, args.timeout)
        users = customers(api, args.users)
    else:
        users = customers(api, args.updates, round_)
    await api.wait_quiet(0.3, args.timeout)
    expected: dict[int, int] = {}
    queued: dict[int, list[float]] = {u.id: [] for u in users}
    calls_before = len(api.calls)
    spies = start_py_spy(stand, workload, args.py_spy) if args.py_spy and stand.ours else []
    load_before = load_average()
    cpu_before = cpu_seconds(stand.pids)
    start = time.monotonic()
    for i in range(args.updates):
        user = users[i % len(users)]
        queued[user.id].append(time.monotonic())
        expected[user.id] = expected.get(user.id, 0) + 1
        if workload == "first":
            queue_text(api, user, FIRST_TEXT.format(i=i))
        elif workload == "press":
            queue_press(api, user, stand)
        elif workload == "my":
            queue_text(api, user, "/my")
        else:
            number = stand.numbers.get(user.id, f"INC-{user.id % 1_000_000:06d}")
            queue_text(api, user, f"/status {number}")
    api._notify()

    replies: dict[int, list[float]] = {}
    missing = len(expected)
    seen = calls_before
    deadline = start + args.timeout
    while missing and time.monotonic() < deadline:
        calls = api.calls
        while seen < len(calls) and calls[seen].finished_at is not None:
            call = calls[seen]
            seen += 1
            chat = call.chat_id if call.method == "sendMessage" else None
            if chat in expected:
                replies.setdefault(chat, []).append(call.at)
                if len(replies[chat]) == expected[chat]:
                    missing -= 1
        if missing:
            await api.wait_changed(0.2)
    cpu_used = cpu_seconds(stand.pids) - cpu_before
    await stacks.stop(spies)
    latencies = []
    for chat, times in replies.items():
        for sent, replied in zip(queued[chat], times, strict=False):
            latencies.append(max(0.0, replied - sent))
    got = sum(min(len(t), expected[c]) for c, t in replies.items())
    end = max((t for times in replies.values() for t in times), default=time.monotonic())
    note = "" if not missing else f"  INCOMPLETE: {got}/{args.updates} replies within {args.timeout:.0f} s"
    load = f"{load_before}→{load_average()}"
    return Result(stand.name, got, end - start, latencies, note, cpu_used, peak_rss_mb(stand.pids), load)


class RoundRobin:
    """A tiny HTTP proxy the stand-in's webhook posts to; it alternates between bot processes."""

    def __init__(self, targets: list[str]) -> None:
        self.targets = targets
        self.n = 0
        self.runner: Any = None
        self.port = 0

    async def start(self) -> str:
        from aiohttp import ClientSession, web

        self.session = ClientSession()

        async def forward(request: web.Request) -> web.Response:
            body = await request.read()
            for _ in range(len(self.targets) * 3):
                target = self.targets[self.n % len(self.targets)]
                self.n += 1
                try:
                    async with self.session.post(
                        target + request.path, data=body, headers=dict(request.headers)
                    ) as resp:
                        return web.Response(status=resp.status, body=await resp.read())
                except OSError:
                    await asyncio.sleep(0.1)
            return web.Response(status=502)

        app = web.Application()
        app.router.add_post("/{tail:.*}", forward)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return f"http://127.0.0.1:{self.port}"

    async def stop(self) -> None:
        await self.session.close()
        if self.runner is not None:
            await self.runner.cleanup()


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--updates", type=int, default=1000, help="updates per workload")
    parser.add_argument("--users", type=int, default=200, help="customers with a ticket (/my, /status)")
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--processes", type=int, choices=(1, 2), default=1)
    parser.add_argument("--limits", choices=("relaxed", "telegram", "both"), default="relaxed")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for all replies")
    parser.add_argument("--runtime", choices=("aiogram", "ptb", "both"), default="aiogram", help="BOT_RUNTIME")
    parser.add_argument("--workloads", default=",".join(WORKLOADS), help="a comma-separated subset, in order")
    parser.add_argument("--keep-log", action="store_true", help="print our bot's log tail")
    parser.add_argument("--py-spy", metavar="DIR", help="profile our bot during each workload into DIR (py-spy)")
    parser.add_argument("--rounds", type=int, default=1, help="run the workloads R times; report medians")
    args = parser.parse_args()
    if not 1 <= args.rounds <= 20:
        parser.error("--rounds: from 1 to 20")
    if args.updates > ROUND_USERS:
        parser.error(f"--updates: at most {ROUND_USERS}")
    workloads = [w.strip() for w in args.workloads.split(",") if w.strip()]
    unknown = [w for w in workloads if w not in WORKLOADS]
    if unknown or not workloads:
        parser.error(f"--workloads: choose among {', '.join(WORKLOADS)}")
    if args.users > args.updates:
        parser.error("--users must not exceed --updates (the customers with a ticket come from `first`)")
    if ("my" in workloads or "status" in workloads) and "first" not in workloads:
        workloads.insert(0, "first")  # /my and /status need the customers' intakes
    if "press" in workloads and "first" not in workloads:
        workloads.insert(0, "first")

    print(f"machine: {machine()}")
    print(f"load average at the start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"workloads: {args.updates} updates each, queued at once; /my and /status from {args.users} customers")
    dbs = ("sqlite", "postgres") if args.db == "both" else (args.db,)
    table: list[tuple[str, Result, Result]] = []
    for runtime in ("aiogram", "ptb") if args.runtime == "both" else (args.runtime,):
        async with contextlib.AsyncExitStack() as stack:
            echo = await echo_stand(stack, runtime)
            ours = [
                await our_stand(stack, args, db, limits, runtime)
                for db in dbs
                for limits in (("relaxed", "telegram") if args.limits == "both" else (args.limits,))
            ]
            for round_ in range(args.rounds):
                for workload in workloads:
                    round_note = f", round {round_ + 1} of {args.rounds}" if args.rounds > 1 else ""
                    print(f"\n{TITLES[workload]} ({runtime}{round_note}):")
                    base = await run_workload(echo, workload, args, round_)
                    print(base.line())
                    for stand in ours:
                        result = await run_workload(stand, workload, args, round_)
                        print(result.line())
                        table.append((workload, base, result))
            if args.keep_log:
                for stand in ours:
                    print(stand.procs[0].log_tail(20))
    print()
    header = f"{'workload':<32}{'bot':<34}{'echo /s':>9}{'ours /s':>9}{'ratio':>7}{'CPU/update echo / ours':>25}  load"
    print(header)
    for workload, base, result in table:
        ratio = result.rate / base.rate if base.rate else 0.0
        cpu = f"{base.cpu_per_update:.2f} / {result.cpu_per_update:.2f} ms"
        print(
            f"{TITLES[workload]:<32}{result.name:<34}{base.rate:>9.1f}{result.rate:>9.1f}{ratio:>7.2f}{cpu:>25}"
            f"  {result.load}{result.note}"
        )
    if args.rounds > 1:
        print_medians(table, args.rounds)
    return 0


def print_medians(table: list[tuple[str, Result, Result]], rounds: int) -> None:
    """Per workload and bot: the median ratio of the rounds, its range, and the median CPU per update."""
    print(f"\nmedians of {rounds} rounds")
    print(f"{'workload':<32}{'bot':<34}{'ratio':>7}{'range':>13}{'CPU/update echo / ours':>25}")
    groups: dict[tuple[str, str], list[tuple[Result, Result]]] = {}
    for workload, base, result in table:
        groups.setdefault((workload, result.name), []).append((base, result))
    for (workload, name), pairs in groups.items():
        ratios = [r.rate / b.rate if b.rate else 0.0 for b, r in pairs]
        cpu = f"{median(b.cpu_per_update for b, _ in pairs):.2f} / {median(r.cpu_per_update for _, r in pairs):.2f} ms"
        spread = f"{min(ratios):.2f}-{max(ratios):.2f}"
        print(f"{TITLES[workload]:<32}{name:<34}{median(ratios):>7.2f}{spread:>13}{cpu:>25}")


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))

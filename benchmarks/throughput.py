"""Throughput and latency of the whole bot against a bare aiogram echo bot, through the Bot API stand-in.

    python benchmarks/throughput.py [--updates N] [--users M] [--db sqlite|postgres] [--processes 1|2]
                                    [--limits relaxed|telegram|both] [--runtime aiogram|ptb|both]

N text updates from M simulated customers are queued at the stand-in (tests/support/botapi.py) at once.
Each bot under test long-polls them and answers every one:
- echo:  the bare bot of the runtime measured: benchmarks/echo_bot.py (aiogram's Dispatcher +
         start_polling, `message.answer(text)`) or benchmarks/echo_ptb.py (python-telegram-bot's
         Application + run_polling, `message.reply_text(text)`);
- ours:  `python -m bot` with BOT_RUNTIME set to that runtime, the full stack: durable inbox, the intake
         dialog (triage on the first text), the database, and the reply through the outbox and its
         delivery loop.
`--runtime ptb` measures our bot on python-telegram-bot against the ptb echo bot, `both` measures each
runtime against its own echo bot in the same run and prints them side by side.
Reported: updates/s (N / time from the first update queued to the last reply seen), the ratio, and
p50/p99 latency per update (queued at the stand-in → the bot's reply to that chat arrives at the
stand-in, k-th update of a chat paired with its k-th reply).

Our bot paces its sends as Telegram demands: OUTBOX_RATE_PER_SECOND (default 30 messages/s in all)
and OUTBOX_PRIVATE_INTERVAL (default 1 s between messages to one private chat). With those limits its
rate is capped at 30 updates/s by design, whatever the machinery can do; `--limits relaxed` (default)
raises them so the machinery is measured, `telegram` keeps the defaults, `both` runs the two.
`--processes 2` runs two bot processes in webhook mode behind a small round-robin proxy.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.support.botapi import FakeBotAPI  # noqa: E402
from tests.support.botproc import DEFAULT_TOKEN, BotFactory, BotProcess  # noqa: E402

RELAXED = {"OUTBOX_RATE_PER_SECOND": "100000", "OUTBOX_PRIVATE_INTERVAL": "0s", "OUTBOX_GROUP_PER_MINUTE": "100000"}
TELEGRAM = {"OUTBOX_RATE_PER_SECOND": "30", "OUTBOX_PRIVATE_INTERVAL": "1s", "OUTBOX_GROUP_PER_MINUTE": "20"}
TEXTS = (
    "The printer on floor {i} is jammed and prints nothing at all",
    "Accounting server {i}",
    "It still does not work, what should I press {i}",
)


@dataclass
class Result:
    name: str
    updates: int
    seconds: float
    latencies: list[float]
    note: str = ""
    cpu_seconds: float = 0.0  # CPU time the bot process(es) used meanwhile
    peak_mb: float = 0.0  # the largest resident memory of the bot process(es)

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
            f"{self.name:<44} {self.rate:8.1f} updates/s   p50 {self.pct(0.5):7.1f} ms   p99 {self.pct(0.99):7.1f} ms"
            f"   ({self.updates} in {self.seconds:.2f} s; bot CPU {self.cpu_per_update:.2f} ms/update,"
            f" peak RSS {self.peak_mb:.0f} MB){self.note}"
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


def machine() -> str:
    cpu = platform.processor() or ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return f"{platform.platform()}; {os.cpu_count()} CPUs ({cpu or 'unknown CPU'}); Python {platform.python_version()}"


async def drive(
    api: FakeBotAPI, n_updates: int, n_users: int, timeout: float, pids: list[int], first_id: int = 1_000_000
) -> Result:
    """Queue the updates at once; wait for one reply per update; measure."""
    users = [api.user(first_id + u, f"User{u}", language_code="en") for u in range(n_users)]
    chat_ids = {u.id for u in users}
    queued: dict[int, list[float]] = {u.id: [] for u in users}
    cpu_before = cpu_seconds(pids)
    start = time.monotonic()
    for i in range(n_updates):
        user = users[i % n_users]
        turn = len(queued[user.id])
        queued[user.id].append(time.monotonic())
        user_text = TEXTS[min(turn, len(TEXTS) - 1)].format(i=i)
        api.post_incoming(user.id, {"text": user_text}, sender=user.data)
    api._notify()

    def replies() -> list[Any]:
        return [c for c in api.calls if c.method == "sendMessage" and c.chat_id in chat_ids and c.at >= start]

    deadline = start + timeout
    while len(replies()) < n_updates and time.monotonic() < deadline:
        await api.wait_changed(0.2)
    got = replies()
    cpu_used = cpu_seconds(pids) - cpu_before
    by_chat: dict[int, list[float]] = {}
    for call in got:
        by_chat.setdefault(call.chat_id, []).append(call.at)
    latencies = []
    for chat, times in by_chat.items():
        for sent, replied in zip(queued[chat], sorted(times), strict=False):
            latencies.append(max(0.0, replied - sent))
    end = max((c.at for c in got), default=time.monotonic())
    note = "" if len(got) >= n_updates else f"  INCOMPLETE: {len(got)}/{n_updates} replies within {timeout:.0f} s"
    return Result("", min(len(got), n_updates), end - start, latencies, note, cpu_used, peak_rss_mb(pids))


ECHO_BOTS = {"aiogram": "echo_bot.py", "ptb": "echo_ptb.py"}


async def run_echo(args: argparse.Namespace, runtime: str) -> Result:
    async with FakeBotAPI(token=DEFAULT_TOKEN) as api, contextlib.AsyncExitStack() as stack:
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
        try:
            await proc.wait_ready(api, 30)
            result = await drive(api, args.updates, args.users, args.timeout, [proc.proc.pid] if proc.proc else [])
        finally:
            await proc.terminate(5)
    result.name = f"{runtime} echo bot (no database)"
    return result


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


async def run_ours(args: argparse.Namespace, limits: str, runtime: str) -> Result:
    env = dict(RELAXED if limits == "relaxed" else TELEGRAM)
    env.update(LOG_LEVEL="WARNING", POLL_TIMEOUT="10", BOT_RUNTIME=runtime)
    async with FakeBotAPI(token=DEFAULT_TOKEN) as api, contextlib.AsyncExitStack() as stack:
        api.limits.enforce = False  # the bot's own OUTBOX_* pacing is measured, not Telegram's refusals
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-bot-")))
        if args.db == "postgres":
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
        try:
            for proc in procs:
                await proc.wait_ready(api, 60)
            await asyncio.sleep(1.0)  # both processes up (webhook mode: the second's setWebhook)
            pids = [p.proc.pid for p in procs if p.proc is not None]
            result = await drive(api, args.updates, args.users, args.timeout, pids)
            if args.keep_log:
                print(procs[0].log_tail(20))
        finally:
            for proc in procs:
                await proc.terminate(10)
    where = "SQLite" if args.db == "sqlite" else "PostgreSQL"
    mode = "" if args.processes == 1 else f", {args.processes} processes (webhook)"
    pacing = "relaxed limits" if limits == "relaxed" else "Telegram limits 30/s, 1 s/chat"
    result.name = f"intake bot on {runtime} ({where}{mode}; {pacing})"
    return result


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--updates", type=int, default=2000)
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--processes", type=int, choices=(1, 2), default=1)
    parser.add_argument("--limits", choices=("relaxed", "telegram", "both"), default="relaxed")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for all replies")
    parser.add_argument("--runtime", choices=("aiogram", "ptb", "both"), default="aiogram", help="BOT_RUNTIME")
    parser.add_argument("--keep-log", action="store_true", help="print the bot log tail")
    args = parser.parse_args()

    print(f"machine: {machine()}")
    print(f"workload: {args.updates} text updates from {args.users} users, queued at once")
    ratios: list[tuple[str, Result, Result]] = []
    for runtime in ("aiogram", "ptb") if args.runtime == "both" else (args.runtime,):
        echo = await run_echo(args, runtime)
        print(echo.line())
        for limits in ("relaxed", "telegram") if args.limits == "both" else (args.limits,):
            ours = await run_ours(args, limits, runtime)
            print(ours.line())
            ratios.append((runtime, echo, ours))
    print()
    print(f"{'runtime':<10}{'echo updates/s':>16}{'ours updates/s':>16}{'ratio':>8}{'CPU/update echo / ours':>26}")
    for runtime, echo, ours in ratios:
        ratio = ours.rate / echo.rate if echo.rate else 0.0
        cpu = f"{echo.cpu_per_update:.2f} / {ours.cpu_per_update:.2f} ms"
        print(f"{runtime:<10}{echo.rate:>16.1f}{ours.rate:>16.1f}{ratio:>8.2f}{cpu:>26}")
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))

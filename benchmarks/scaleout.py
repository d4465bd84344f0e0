"""Scale-out on PostgreSQL: the same intake workload with one, two and four bot processes.

    python benchmarks/scaleout.py [--customers N] [--processes 1,2,4] [--limits relaxed|telegram]
                                  [--idle SECONDS] [--py-spy DIR]

Both runs use webhook mode behind the same round-robin load balancer (tests/e2e/test_multiprocess.py),
so the only difference is the number of processes. N simulated customers go through the whole intake
at once (description → service → impact → urgency → no files → no contact → confirm: 7 updates, a
ticket and its staff card each), each waiting for the bot's answer before the next step, like people.

Reported per run: completed intakes, updates/s, p50/p99 time from a customer's step to the bot's
answer, and the CPU the bot processes used per update, summed over all of them; then, against one
process, the CPU-per-update ratio (the cost of coordinating the processes: shared inbox, outbox claims,
the deployment-wide send rate; the goal is at most 1.15 for two) and the throughput ratio. The
throughput ratio only means something when the machine has cores to spare: the stand-in, the load
balancer, PostgreSQL and the bots all share this one (the script prints the core count and the load
average before each run). CPU per update shows the cost each process adds, whatever the core count.

Also per run: PostgreSQL transactions per update (commits and rollbacks of the run's database, from
pg_stat_database: a count, not a time, so it does not move with the machine's load) and, before the
customers come, what the idle processes cost: CPU and transactions per second over `--idle` seconds
(a background loop pays per second, and N processes pay it N times). `--py-spy DIR` profiles every
bot process, idle and under load, into raw stack files (one per process and phase).

`--limits relaxed` (default) lifts Telegram's pacing (30 messages/s, 1 s per private chat, 20/min per
group) so the machinery is measured; `telegram` keeps it, and then the rate is capped by design.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks import stacks  # noqa: E402
from tests.e2e.test_multiprocess import (  # noqa: E402
    DESCRIPTIONS,
    PATH,
    RoundRobinProxy,
    free_port,
    run_intake,
    wait_healthy,
)
from tests.support.botapi import EDIT_METHODS, MESSAGE_METHODS, FakeBotAPI  # noqa: E402
from tests.support.botproc import DEFAULT_TOKEN, BotFactory  # noqa: E402
from tests.support.databases import postgres_database  # noqa: E402

RELAXED = {"OUTBOX_RATE_PER_SECOND": "100000", "OUTBOX_PRIVATE_INTERVAL": "0s", "OUTBOX_GROUP_PER_MINUTE": "100000"}
TELEGRAM = {"OUTBOX_RATE_PER_SECOND": "30", "OUTBOX_PRIVATE_INTERVAL": "1s", "OUTBOX_GROUP_PER_MINUTE": "20"}


@dataclass
class Run:
    processes: int
    customers: int
    completed: int = 0
    updates: int = 0
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    system_cpu: float = 0.0  # the kernel's part of cpu_seconds (socket calls to PostgreSQL and the stand-in)
    harness_cpu: float = 0.0
    idle_cpu: float = 0.0  # CPU seconds per second all bot processes use with nothing to do
    postgres_cpu: float = 0.0
    transactions: int = 0  # commits + rollbacks in the run's database while the customers were served
    idle_transactions: float = 0.0  # per second, all bot processes together, nobody writing
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.updates / self.seconds if self.seconds else 0.0

    def pct(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    @property
    def cpu_per_update(self) -> float:
        """CPU seconds per update, summed over all bot processes."""
        return self.cpu_seconds / self.updates if self.updates else float("nan")

    def line(self) -> str:
        per100 = 100 / self.updates if self.updates else float("nan")
        cpu = self.cpu_seconds * per100
        plural = "es" if self.processes > 1 else "  "
        return (
            f"{self.processes} process{plural}: {self.completed}/{self.customers} intakes, "
            f"{self.updates} updates in {self.seconds:6.2f} s = {self.rate:6.1f} updates/s; "
            f"answer p50 {self.pct(0.5):6.1f} ms, p99 {self.pct(0.99):7.1f} ms; "
            f"bot CPU per update (all processes) {self.cpu_per_update * 1000:.2f} ms "
            f"({self.system_cpu / self.cpu_seconds if self.cpu_seconds else 0:.0%} in the kernel); "
            f"CPU per 100 updates: bots {cpu:.2f} s, "
            f"PostgreSQL {self.postgres_cpu * per100:.2f} s, stand-in and customers {self.harness_cpu * per100:.2f} s; "
            f"PostgreSQL transactions per update {self.transactions * per100 / 100:.2f}; "
            f"idle bots {self.idle_cpu * 100:.1f}% of a core, {self.idle_transactions:.1f} transactions/s"
            + (f"; {len(self.errors)} failed: {self.errors[0][:200]}" if self.errors else "")
        )


def postgres_cpu() -> dict[int, float]:
    """CPU time of every PostgreSQL server process on this machine, by pid (empty when it runs elsewhere)."""
    found: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if (entry / "comm").read_text().strip() in ("postgres", "postmaster"):
                    found[int(entry.name)] = cpu_seconds(int(entry.name))
    return found


def cpu_since(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU used between two samples by the processes alive at the second (a backend that exited is missed)."""
    return sum(max(0.0, used - before.get(pid, 0.0)) for pid, used in after.items())


def cpu_seconds(pid: int | None, *, system_only: bool = False) -> float:
    """User + system CPU time of a process so far (Linux /proc), or only the system part; 0 when unknown."""
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[12]) + (0 if system_only else int(fields[11]))) / os.sysconf("SC_CLK_TCK")


#: PostgreSQL 15 reports a backend's counts when it goes idle, at most once a second; counts still due then
#: are reported after 10 s of idleness at the latest (PGSTAT_IDLE_INTERVAL): waiting that long before a
#: reading makes it complete
STATS_SETTLE = 10.5
XACTS = "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = current_database()"


async def transactions(url: str) -> int:
    """Commits + rollbacks so far in the run's database (pg_stat_database; see STATS_SETTLE). Each reading is
    two transactions itself, counted by the next: `transactions_between` takes it off."""
    import asyncpg

    conn = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
    try:
        return int(await conn.fetchval(XACTS))
    finally:
        await conn.close()


def transactions_between(before: int, after: int) -> int:
    return after - before - 2  # the first reading's own: the query and its connection's set-up


def start_py_spy(pids: list[int | None], folder: str | None, phase: str) -> list[subprocess.Popen[bytes]]:
    """py-spy on every bot process for one phase (benchmarks/stacks.py)."""
    if not folder:
        return []
    running = [(n, pid) for n, pid in enumerate(pids) if pid is not None]
    return stacks.record({pid: Path(folder) / f"{phase}-{n + 1}-{pid}.txt" for n, pid in running})


async def run(
    processes: int,
    customers: int,
    limits: dict[str, str],
    timeout: float,
    warmup: int = 0,
    idle: float = 10.0,
    py_spy: str | None = None,
) -> Run:
    result = Run(processes, customers)
    async with FakeBotAPI(token=DEFAULT_TOKEN) as api, contextlib.AsyncExitStack() as stack:
        api.limits.enforce = False  # the bot's own OUTBOX_* pacing is measured, not Telegram's refusals
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="scaleout-")))
        url = await stack.enter_async_context(postgres_database("scaleout_"))
        factory = BotFactory(api, workdir)
        stack.push_async_callback(factory.aclose)
        ports = [free_port() for _ in range(processes)]
        proxy = await RoundRobinProxy([f"http://127.0.0.1:{p}{PATH}" for p in ports]).start()
        stack.push_async_callback(proxy.stop)
        env = {
            **limits,
            "LOG_LEVEL": "WARNING",
            "SWEEP_EVERY": "5s",  # production defaults, not the tests' shortened ones
            "OUTBOX_POLL_EVERY": "1s",
            "WEBHOOK_URL": proxy.url,
            "WEBHOOK_SECRET": "scaleout_secret_0123456789",
            "WEBHOOK_HOST": "127.0.0.1",
            "WEBHOOK_PATH": PATH,
        }
        procs = [factory(url, {**env, "WEBHOOK_PORT": str(port)}, name=f"bot{n + 1}") for n, port in enumerate(ports)]
        for proc in procs:
            proc.start()
        for proc, port in zip(procs, ports, strict=True):
            await wait_healthy(proc, port)
        await asyncio.sleep(1.0)  # every process registered its webhook and ran its first sweeps
        if warmup:  # intakes first, so every process has imported, compiled and cached what it uses, and has
            # opened the connections the load needs, each with its prepared statements (a long-running process
            # has them; 10 warm-up intakes left most to the measured run: 983 of its 9,385 statements were
            # prepared afresh with one process, 1,789 of 11,227 with two, on connections opened meanwhile)
            warm = [api.user(300_000 + n, f"Warm{n}", language_code="en") for n in range(warmup)]
            await asyncio.gather(
                *(run_intake(u, DESCRIPTIONS[n % len(DESCRIPTIONS)].format(n=n), timeout) for n, u in enumerate(warm))
            )
            await asyncio.sleep(1.0)
        await asyncio.sleep(STATS_SETTLE)  # the warm-up's transactions are all reported before the idle sample
        pids = [p.pid for p in procs]
        spies = start_py_spy(pids, py_spy, f"{processes}p-idle")
        idle_before, idle_xacts = sum(cpu_seconds(p.pid) for p in procs), await transactions(url)
        idle_started = time.monotonic()
        await asyncio.sleep(idle)
        result.idle_cpu = (sum(cpu_seconds(p.pid) for p in procs) - idle_before) / idle
        await stacks.stop(spies)
        await asyncio.sleep(STATS_SETTLE)  # still idle: the sample's transactions are all reported
        idle_xacts = transactions_between(idle_xacts, await transactions(url))
        result.idle_transactions = idle_xacts / (time.monotonic() - idle_started)

        users = [api.user(200_000 + n, f"Customer{n}", language_code="en") for n in range(customers)]
        cpu_before = sum(cpu_seconds(p.pid) for p in procs)
        system_before = sum(cpu_seconds(p.pid, system_only=True) for p in procs)
        harness_before, pg_before = time.process_time(), postgres_cpu()
        calls_before = len(api.calls)
        spies = start_py_spy(pids, py_spy, f"{processes}p-load")
        xacts_before = await transactions(url)
        started = time.monotonic()
        outcomes = await asyncio.gather(
            *(run_intake(u, DESCRIPTIONS[n % len(DESCRIPTIONS)].format(n=n), timeout) for n, u in enumerate(users)),
            return_exceptions=True,
        )
        result.seconds = time.monotonic() - started
        result.cpu_seconds = sum(cpu_seconds(p.pid) for p in procs) - cpu_before
        result.system_cpu = sum(cpu_seconds(p.pid, system_only=True) for p in procs) - system_before
        result.harness_cpu = time.process_time() - harness_before
        result.postgres_cpu = cpu_since(pg_before, postgres_cpu())
        await stacks.stop(spies)
        await asyncio.sleep(STATS_SETTLE)  # every backend has reported the run's transactions
        settled = transactions_between(xacts_before, await transactions(url))
        # less what the idle processes did meanwhile (at the idle sample's rate)
        result.transactions = round(settled - result.idle_transactions * (time.monotonic() - started - result.seconds))
        result.completed = sum(1 for o in outcomes if isinstance(o, str))
        result.errors = [repr(o) for o in outcomes if isinstance(o, BaseException)]

        # latency: each customer update (message or button) → the bot's next message in that chat
        ids = {u.id for u in users}
        delivered = [u for u in api.updates if _chat_of(u) in ids]
        result.updates = len(delivered)
        answers = MESSAGE_METHODS | EDIT_METHODS
        sends = [c for c in api.calls[calls_before:] if c.method in answers and c.chat_id in ids and c.ok]
        by_chat: dict[int, list[float]] = {}
        for call in sends:
            by_chat.setdefault(call.chat_id, []).append(call.at)
        for chat_id, times in by_chat.items():
            arrivals = sorted(api_update_times.get(chat_id, []))
            for arrived in arrivals:
                later = [t for t in times if t >= arrived]
                if later:
                    result.latencies.append(min(later) - arrived)
        for proc in procs:
            await proc.terminate(10)
    return result


api_update_times: dict[int, list[float]] = {}


def _load() -> str:
    """The machine's load average (1, 5, 15 min): the machine is shared, so each figure comes with it."""
    path = Path("/proc/loadavg")
    return " ".join(path.read_text().split()[:3]) if path.exists() else "?"


def _chat_of(update: dict) -> int | None:
    body = update.get("message") or update.get("callback_query") or {}
    chat = (body.get("chat") or (body.get("message") or {}).get("chat") or {}).get("id")
    return chat if chat is not None else (body.get("from") or {}).get("id")


def _record_arrivals(api_cls: type[FakeBotAPI]) -> None:
    """Note when each customer update is queued at the stand-in (the start of its latency)."""
    original = api_cls.enqueue

    def enqueue(self: FakeBotAPI, kind: str, payload: dict):
        update = original(self, kind, payload)
        if update is not None:
            chat = _chat_of(update)
            if chat is not None:
                api_update_times.setdefault(chat, []).append(time.monotonic())
        return update

    api_cls.enqueue = enqueue  # type: ignore[method-assign]


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=150, help="concurrent customers, one intake each")
    parser.add_argument("--processes", default="1,2,4", help="comma-separated process counts to compare")
    parser.add_argument("--limits", choices=("relaxed", "telegram"), default="relaxed")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds an intake may take")
    parser.add_argument(
        "--warmup", type=int, help="intakes done at once before measuring, per run (default: as many as customers)"
    )
    parser.add_argument("--idle", type=float, default=10.0, help="seconds the idle processes are measured")
    parser.add_argument("--py-spy", metavar="DIR", help="profile every bot process, idle and under load, into DIR")
    args = parser.parse_args()
    _record_arrivals(FakeBotAPI)

    print(
        f"machine: {platform.platform()}, {os.cpu_count()} CPU cores, Python {platform.python_version()}; "
        f"PostgreSQL at {os.environ.get('TEST_POSTGRES_URL', '127.0.0.1:5432')}"
    )
    print(f"workload: {args.customers} customers, one full intake each (7 updates), all at once; limits {args.limits}")
    runs: list[Run] = []
    for count in (int(p) for p in args.processes.split(",")):
        api_update_times.clear()
        limits = RELAXED if args.limits == "relaxed" else TELEGRAM
        load = _load()
        warmup = args.customers if args.warmup is None else args.warmup
        result = await run(count, args.customers, limits, args.timeout, warmup, args.idle, args.py_spy)
        print(f"[load average {load}] {result.line()}", flush=True)
        runs.append(result)
    if len(runs) >= 2 and runs[0].rate:
        base = runs[0]
        for other in runs[1:]:
            cpu_ratio = other.cpu_per_update / base.cpu_per_update
            goal = " (goal <= 1.15)" if (other.processes, base.processes) == (2, 1) else ""
            print(
                f"{other.processes}:{base.processes} processes: CPU per update x{cpu_ratio:.3f}{goal}; "
                f"throughput x{other.rate / base.rate:.2f}"
                + (f", p50 answer x{other.pct(0.5) / base.pct(0.5):.2f}" if base.latencies and other.latencies else "")
            )
    if runs:
        print(f"median answer over all runs: {statistics.median(x for r in runs for x in r.latencies) * 1000:.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))

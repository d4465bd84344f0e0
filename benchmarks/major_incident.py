"""Issue 15's load: hundreds of customers report the same outage within a minute, one major incident.

    python benchmarks/major_incident.py [--customers 500] [--seconds 60] [--db sqlite|postgres|both]

The real bot process (`python -m bot`, long polling, Telegram's sending limits as configured by default:
OUTBOX_RATE_PER_SECOND=30, one message per private chat per second, 20 per minute to the staff group)
against the Bot API stand-in (tests/support/botapi.py). N simulated customers write the office-internet
outage's reports of benchmarks/data/outage_scenarios.jsonl (Russian and English, cycled; each customer
one report, in the language of the line), spread evenly over the given seconds, among the scenario's
unrelated reports (extra customers, not counted). Each behaves like a person: when the bot says the
problem is already known, they press "Yes, keep me informed"; otherwise they walk the form (first
offered answers, no files, no contact, confirm). An agent presses "Merge into a major incident" on any
proposal that appears in the staff chat.

Reported, per database:
- how many of the N end up under one major incident (linked under it, or its own report), by how: the
  first reports merged from the proposal, reports linked automatically after the form, and customers
  who took the offer at intake — the target is at least 95%; and that no unrelated report was linked;
- the broadcast: the agent's `/resolve PARENT supplier …` reaching every linked customer: each gets it
  exactly once (counted after the closing notice that must follow it), and the time from the command
  to the last one against N ÷ OUTBOX_RATE_PER_SECOND, the floor Telegram's limit sets;
- the bot's CPU per linked report (the intake phase: every report's updates, triage, grouping, the
  offer or the form, linking) and for the broadcast.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sqlalchemy import text  # noqa: E402
from sqlalchemy.ext.asyncio import create_async_engine  # noqa: E402

from benchmarks.throughput import cpu_seconds, machine  # noqa: E402
from tests.e2e.test_major_incidents import walk  # noqa: E402
from tests.support.botapi import FakeBotAPI  # noqa: E402
from tests.support.botproc import DEFAULT_TOKEN, BotFactory, all_log_texts  # noqa: E402
from tests.support.databases import postgres_database  # noqa: E402

DATA = REPO / "benchmarks" / "data" / "outage_scenarios.jsonl"
SCENARIO = "office_internet"
RATE = 30  # OUTBOX_RATE_PER_SECOND, the default
REPORT = "The provider replaced a faulty line card at the exchange; all office links are up."
CLOSED = ("closed", "закрыта")


@dataclass
class Run:
    db: str
    customers: int
    outcomes: dict[str, int] = field(default_factory=dict)  # followed / registered / failed
    linked: int = 0  # the N under the major incident (linked or its own report)
    majors: int = 0
    noise_linked: int = 0
    intake_seconds: float = 0.0
    intake_cpu: float = 0.0
    broadcast_seconds: float = 0.0
    broadcast_cpu: float = 0.0
    received_once: int = 0
    duplicates: int = 0
    failed_attempts: int = 0  # handler attempts that raised (a deadlock, say) and were tried again
    parked: int = 0  # updates given up after HANDLER_ATTEMPTS
    errors: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        floor = self.linked / RATE
        share = 100 * self.linked / self.customers if self.customers else 0
        return [
            f"[{self.db}] {self.customers} customers in {self.intake_seconds:.1f} s: "
            + ", ".join(f"{k} {v}" for k, v in sorted(self.outcomes.items())),
            f"  under one major incident: {self.linked}/{self.customers} ({share:.1f}%; target >= 95%), "
            f"major incidents made: {self.majors}, unrelated reports linked: {self.noise_linked}",
            f"  resolution broadcast: {self.received_once}/{self.linked} received it exactly once, "
            f"{self.duplicates} duplicates; {self.broadcast_seconds:.1f} s against {self.linked} / {RATE} = "
            f"{floor:.1f} s (ratio {self.broadcast_seconds / floor if floor else float('nan'):.2f})",
            f"  bot CPU: {1000 * self.intake_cpu / max(1, self.linked):.1f} ms per linked report (intake phase, "
            f"{self.intake_cpu:.1f} s in all); broadcast {1000 * self.broadcast_cpu / max(1, self.linked):.2f} ms "
            f"per customer told",
            f"  handler attempts tried again: {self.failed_attempts}; updates given up (parked): {self.parked}",
            *(f"  error: {e}" for e in self.errors[:5]),
        ]


def scenario() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    lines = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines() if line.strip()]
    mine = [line for line in lines if line["scenario"] == SCENARIO]
    return [line for line in mine if line["group"] != "none"], [line for line in mine if line["group"] == "none"]


async def customer(user: Any, report: str, start_at: float, t0: float, timeout: float) -> str:
    """One person: write, take the known-outage offer if made, else walk the form. Returns how it ended."""
    await asyncio.sleep(max(0.0, t0 + start_at - time.monotonic()))
    ended = await walk(user, report, follow=True, timeout=timeout)
    return "followed" if ended == "followed" else "registered"


async def merge_proposals(api: FakeBotAPI, staff: Any, agent: Any, stop: asyncio.Event) -> int:
    """The agent: merges every proposal that appears, until told to stop."""
    merged = 0
    while not stop.is_set():
        found = [m for m in staff.unseen() if "Possible major incident" in (m.content or "") and m.buttons]
        staff.skip()
        for proposal in found:
            await agent.press(proposal, "🔗 Merge into a major incident")
            merged += 1
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.25)
    return merged


async def query(url: str, sql: str) -> list[tuple[Any, ...]]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            return [tuple(row) for row in (await connection.execute(text(sql))).all()]
    finally:
        await engine.dispose()


async def run(db: str, customers: int, seconds: float, timeout: float) -> Run:
    result = Run(db, customers)
    outage, noise = scenario()
    async with FakeBotAPI(token=DEFAULT_TOKEN) as api, contextlib.AsyncExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="major-")))
        factory = BotFactory(api, workdir)
        stack.push_async_callback(factory.aclose)
        url = factory.default_database_url
        if db == "postgres":
            url = await stack.enter_async_context(postgres_database("major_"))
        env = {"LOG_LEVEL": "WARNING", "SWEEP_EVERY": "5s", "OUTBOX_POLL_EVERY": "1s"}  # production pacing
        bot = await factory.start(url, env, timeout=60)
        agent = api.user(7001)
        staff = factory.staff

        users = [
            api.user(300_000 + n, f"C{n}", language_code=outage[n % len(outage)]["lang"]) for n in range(customers)
        ]
        others = [api.user(400_000 + n, f"N{n}", language_code=line["lang"]) for n, line in enumerate(noise)]
        plan = [(u, outage[n % len(outage)]["text"], seconds * n / customers) for n, u in enumerate(users)]
        plan += [
            (u, line["text"], seconds * (n + 0.5) / len(noise))
            for n, (u, line) in enumerate(zip(others, noise, strict=True))
        ]
        stop = asyncio.Event()
        merger = asyncio.create_task(merge_proposals(api, staff, agent, stop))
        cpu0, t0 = cpu_seconds([bot.pid]), time.monotonic()
        outcomes = await asyncio.gather(
            *(customer(u, report, at, t0, timeout) for u, report, at in plan), return_exceptions=True
        )
        await api.wait_quiet(3.0, timeout=600)  # automatic links and their notices settled
        stop.set()
        await merger
        result.intake_seconds = time.monotonic() - t0
        result.intake_cpu = cpu_seconds([bot.pid]) - cpu0
        for outcome in outcomes[:customers]:
            key = outcome if isinstance(outcome, str) else "failed"
            result.outcomes[key] = result.outcomes.get(key, 0) + 1
        result.errors = [repr(o) for o in outcomes if isinstance(o, BaseException)]

        majors = await query(url, "SELECT id, number FROM tickets WHERE is_major")
        result.majors = len(majors)
        if not majors:
            result.errors.append("no major incident was made")
            return result
        counts = await query(
            url,
            "SELECT t.parent_id, t.is_major, t.id, c.telegram_id"
            " FROM tickets t JOIN customers c ON c.id = t.customer_id",
        )
        by_parent: dict[int, set[int]] = {}
        for parent_id, is_major, ticket_id, telegram_id in counts:
            group = ticket_id if is_major else parent_id
            if group is not None:
                by_parent.setdefault(group, set()).add(int(telegram_id))
        parent_id, members = max(by_parent.items(), key=lambda item: len(item[1]))
        parent_number = dict(majors)[parent_id]
        outage_ids, noise_set = {u.id for u in users}, {u.id for u in others}
        under = members & outage_ids
        result.linked = len(under)
        result.noise_linked = len({tid for group in by_parent.values() for tid in group} & noise_set)

        # the broadcast: the resolution reaches every linked customer; the close notice comes after it
        told = [u for u in users if u.id in under]
        cpu1, t1 = cpu_seconds([bot.pid]), time.monotonic()
        await agent.command("resolve", f"{parent_number} supplier {REPORT}")
        await asyncio.gather(*(u.wait_for("faulty line card", timeout=timeout + 2 * len(told) / RATE) for u in told))
        last = max(c.at for c in api.calls if c.chat_id in under and "faulty line card" in str(c.params.get("text")))
        result.broadcast_seconds = last - t1
        result.broadcast_cpu = cpu_seconds([bot.pid]) - cpu1
        await agent.command("close", parent_number)
        await asyncio.gather(
            *(
                u.wait_for(
                    parent_number,
                    lambda m: any(w in (m.content or "") for w in CLOSED),
                    timeout=timeout + 2 * len(told) / RATE,
                )
                for u in told
            )
        )
        result.received_once = sum(
            1 for u in told if sum("faulty line card" in (m.content or "") for m in u.messages) == 1
        )
        result.duplicates = sum(len(api.duplicate_sends(u.id)) for u in told)
        result.parked = (await query(url, "SELECT count(*) FROM inbox WHERE status = 'parked'"))[0][0]
        result.failed_attempts = sum(text.count("outcome=error") for text in all_log_texts().values())
        await bot.terminate(10)
    return result


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--timeout", type=float, default=300.0, help="per step of a customer, seconds")
    args = parser.parse_args()
    print(machine())
    for db in ("sqlite", "postgres") if args.db == "both" else (args.db,):
        result = await run(db, args.customers, args.seconds, args.timeout)
        print("\n".join(result.lines()), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))

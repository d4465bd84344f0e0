"""Outage grouping cost: reading one report, one comparison, and placing a new report among N open incidents.

Run from the repository root: ``python benchmarks/outage_grouping.py``. Issue 15's scenario has 500
customers reporting one outage within 60 s, so each new report is placed among up to 500 open incidents.
Three mixes of open incidents, built from the labelled sets in tests/data: "mixed" (the sets' reports, about
half unrelated noise), "one outage" (every open incident is the same outage and none is linked yet, so every
comparison passes the service gate: the worst case) and "one outage, merged" (all linked under one major
incident, as after staff merged the proposal). Open incidents' profiles are built
once, as the live detector caches them; each new report's profile is built inside the timed placement.
"""

from __future__ import annotations

import argparse
import itertools
import os
import platform
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from helpdesk.outages.evaluation import read_labelled_reports  # noqa: E402
from helpdesk.outages.placement import OpenIncident, place_report  # noqa: E402
from helpdesk.outages.profile import profile_report  # noqa: E402
from helpdesk.outages.similarity import compare  # noqa: E402

DATA = ROOT / "tests" / "data"
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _texts() -> dict[str, tuple[list[tuple[str, str | None]], list[str]]]:
    """Mix → (open incidents' texts and services, new reports' texts): from the sets tuned on, and the
    held-out set's reports as the new ones; "one outage" takes only internet outage reports on both sides."""
    names = ("dev", "dev_b", "dev_c", "dev_d")
    rows = [r for name in names for r in read_labelled_reports(DATA / f"groups_{name}.jsonl")]
    held_out = read_labelled_reports(DATA / "groups_holdout.jsonl")
    internet = [r for r in rows if r.group and "internet" in r.group]
    return {
        "mixed": ([(r.text, r.service) for r in rows], [r.text for r in held_out]),
        "one outage": ([(r.text, r.service) for r in internet], [r.text for r in held_out if r.group == "internet_hq"]),
    }


def _open_incidents(pool: list[tuple[str, str | None]], n: int, *, linked: bool = False) -> list[OpenIncident]:
    """n open incidents from the pool; `linked`: all under one major incident (the first), as after a merge."""
    source = itertools.islice(itertools.cycle(pool), n)
    return [
        OpenIncident(i, profile_report(text, service=service), T0 + timedelta(seconds=i), 0 if linked else None)
        for i, (text, service) in enumerate(source)
    ]


def _per_call(fn, calls: int) -> list[float]:
    out = []
    for _ in range(calls):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=200, help="new reports placed per measurement")
    args = parser.parse_args()
    mixes = _texts()
    print(
        f"machine: {platform.platform()}; {platform.machine()}; cpus={os.cpu_count()}; "
        f"python {platform.python_version()}"
    )
    profile_report("warm-up: imports and caches")  # the first call loads the lexicons and stemmers

    texts = [t for t, _ in mixes["mixed"][0]]
    times = _per_call(lambda it=iter(itertools.cycle(texts)): profile_report(next(it)), 2000)
    print(
        f"reading one report (profile): median {statistics.median(times) * 1e6:.0f} µs, "
        f"p99 {sorted(times)[int(len(times) * 0.99)] * 1e6:.0f} µs"
    )

    mixes["one outage, merged"] = mixes["one outage"]
    for label, (pool, new) in mixes.items():
        incidents = _open_incidents(pool, 500, linked=label.endswith("merged"))
        profiles = [i.profile for i in incidents]
        pairs = list(itertools.islice(itertools.cycle(itertools.combinations(profiles[:60], 2)), 20000))
        t0 = time.perf_counter()
        for a, b in pairs:
            compare(a, b)
        per_compare = (time.perf_counter() - t0) / len(pairs)
        print(f"[{label}] one comparison: {per_compare * 1e6:.1f} µs (mean of {len(pairs)})")
        for n in (10, 100, 500):
            subset = incidents[:n]
            stream = itertools.cycle(new)
            times = _per_call(lambda s=subset, st=stream: place_report(profile_report(next(st)), s), args.reports)
            print(
                f"[{label}] placing a new report among {n:>3} open incidents: "
                f"median {statistics.median(times) * 1e3:.2f} ms, max {max(times) * 1e3:.2f} ms"
            )
    print("(a merged group is compared through its major incident and latest members: placement.GROUP_SAMPLE)")


if __name__ == "__main__":
    main()

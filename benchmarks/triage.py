"""Triage benchmark: accuracy on the dev sample, per-call latency, cold start, and the machine.

Run from the repository root: ``python benchmarks/triage.py [--cv]``. Cold start is measured in
fresh subprocesses: once with the model cache warm (the normal start of a bot process) and once with
an empty cache directory (first start after an upgrade: the model is trained from the corpus).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEV = ROOT / "tests" / "data" / "classify_dev.jsonl"
_COLD = """
import time
t0 = time.perf_counter()
import helpdesk.triage as t
t1 = time.perf_counter()
triage = t.Triage.load()
t2 = time.perf_counter()
triage.classify("принтер не печатает")
t3 = time.perf_counter()
print(f"{t1 - t0:.4f} {t2 - t1:.4f} {t3 - t2:.4f}")
"""


def cold_start(cache_dir: str) -> tuple[float, float, float]:
    """(imports, load, first classify) seconds in a fresh interpreter."""
    env = {**os.environ, "TRIAGE_CACHE_DIR": cache_dir, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", _COLD], env=env, cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    return float(out[0]), float(out[1]), float(out[2])


def accuracy(triage: object, rows: list[dict[str, str]]) -> tuple[float, float]:
    ok_type = ok_cat = 0
    for row in rows:
        result = triage.classify(row["text"])  # type: ignore[attr-defined]
        ok_type += result.ticket_type == row["type"]
        ok_cat += result.category == row["category"]
    return ok_type / len(rows), ok_cat / len(rows)


def cross_validate(folds: int = 5) -> tuple[float, float]:
    """k-fold accuracy on our own training corpus: how well it generalises to unseen wording."""
    import numpy as np

    from helpdesk.triage.engine import Triage
    from helpdesk.triage.model import LinearModel, load_corpus

    examples = load_corpus()
    order = np.random.default_rng(0).permutation(len(examples))
    ok_type = ok_cat = 0
    for k in range(folds):
        test = set(order[k::folds].tolist())
        triage = Triage(LinearModel.train([e for i, e in enumerate(examples) if i not in test]))
        for i in test:
            result = triage.classify(examples[i].text)
            ok_type += result.ticket_type == examples[i].ticket_type
            ok_cat += result.category == examples[i].category
    return ok_type / len(examples), ok_cat / len(examples)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cv", action="store_true", help="also 5-fold cross-validate on the corpus (~15 s)")
    parser.add_argument("--rounds", type=int, default=20, help="latency passes over the dev sample")
    args = parser.parse_args()

    import numpy as np
    import sklearn

    from helpdesk.triage import Triage
    from helpdesk.triage.model import CORPUS_DIR, HELDOUT_PREFIX, load_corpus

    print(
        f"machine: {platform.platform()}; {platform.machine()}; cpus={os.cpu_count()}; "
        f"python {platform.python_version()}; scikit-learn {sklearn.__version__}; numpy {np.__version__}"
    )
    print(f"corpus: {len(load_corpus())} examples")

    with tempfile.TemporaryDirectory() as empty:
        imp, train, first = cold_start(empty)
        print(
            f"cold start, no cache (trains): imports {imp:.3f}s, load {train:.3f}s, first classify {first * 1000:.1f}ms"
        )
        imp, load, first = cold_start(empty)
        print(
            f"cold start, cached model:      imports {imp:.3f}s, load {load:.3f}s, first classify {first * 1000:.1f}ms"
        )

    triage = Triage.load()
    rows = [json.loads(line) for line in DEV.read_text(encoding="utf-8").splitlines() if line.strip()]
    type_acc, cat_acc = accuracy(triage, rows)
    print(f"dev sample ({len(rows)}): type accuracy {type_acc:.3f}, category accuracy {cat_acc:.3f}")
    for held in sorted(CORPUS_DIR.glob(f"{HELDOUT_PREFIX}*.jsonl")):
        held_rows = [json.loads(line) for line in held.read_text(encoding="utf-8").splitlines() if line.strip()]
        type_acc, cat_acc = accuracy(triage, held_rows)
        print(f"held-out {held.name} ({len(held_rows)}): type accuracy {type_acc:.3f}, category accuracy {cat_acc:.3f}")
    if args.cv:
        type_acc, cat_acc = cross_validate()
        print(f"5-fold cross-validation on the corpus: type accuracy {type_acc:.3f}, category accuracy {cat_acc:.3f}")

    texts = [r["text"] for r in rows]
    for text in texts:  # warm the stemmer caches as a running bot would be
        triage.classify(text)
    timings = []
    for _ in range(args.rounds):
        for text in texts:
            t0 = time.perf_counter()
            triage.classify(text)
            timings.append(time.perf_counter() - t0)
    timings.sort()
    p50 = statistics.median(timings) * 1000
    p99 = timings[int(len(timings) * 0.99) - 1] * 1000
    print(
        f"latency per classify ({len(timings)} calls): p50 {p50:.2f}ms, p99 {p99:.2f}ms, max {timings[-1] * 1000:.2f}ms"
    )
    long_text = " ".join(texts) * 10
    t0 = time.perf_counter()
    triage.classify(long_text[:10000])
    print(f"one 10,000-char text: {(time.perf_counter() - t0) * 1000:.1f}ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

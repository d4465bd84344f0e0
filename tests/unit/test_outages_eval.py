"""Grouping quality on the labelled sets, and `python -m bot eval-groups` as an operator runs it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from bot.cli import main
from helpdesk.outages.evaluation import group_in_arrival_order, pairwise_quality, read_labelled_reports
from helpdesk.triage import Triage

DATA = Path(__file__).resolve().parents[1] / "data"
HELD_OUT = DATA / "groups_holdout.jsonl"  # written after the rules were frozen; never tuned on
TUNED_ON = [DATA / f"groups_{name}.jsonl" for name in ("dev", "dev_b", "dev_c", "dev_d")]


pytestmark = pytest.mark.usefixtures("triage")  # tests/conftest.py: the model from a temporary cache


@pytest.mark.parametrize("path", [HELD_OUT, *TUNED_ON], ids=lambda p: p.stem)
def test_pairwise_precision_and_recall_meet_the_targets(path: Path, triage: Triage) -> None:
    rows = read_labelled_reports(path)
    assert len(rows) >= 150 and len({r.group for r in rows if r.group}) >= 9
    clusters = group_in_arrival_order(rows, lambda text: triage.classify(text).category)
    quality = pairwise_quality([r.group for r in rows], clusters)
    assert quality.precision >= 0.95, quality
    assert quality.recall >= 0.85, quality


def test_eval_groups_prints_precision_recall_and_a_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval-groups", str(HELD_OUT)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("reports: 167 (87 in 10 labelled outages, 80 unrelated)\n")
    precision = re.search(r"^pairwise precision: (\d\.\d{3}) \((\d+)/(\d+) pairs grouped together", out, re.M)
    recall = re.search(r"^pairwise recall: +(\d\.\d{3}) \((\d+)/342 pairs sharing a label", out, re.M)
    assert precision and recall, out
    assert float(precision.group(1)) >= 0.95 and float(recall.group(1)) >= 0.85
    assert "unrelated reports put in a group: " in out and "/80\n" in out
    assert re.search(r"^internet_hq +11 +\d+ +\d+$", out, re.M), out


def test_eval_groups_jsonl_gives_each_report_its_group(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "reports.jsonl"
    lines = [
        {"text": "Интернет не работает во всём офисе", "group": "net"},
        {"text": "my email password expired", "group": "none"},
        {"text": "internet is down for everyone", "group": "net", "service": "internet"},
        {"text": "привет", "group": None},
    ]
    path.write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in lines) + "\n", encoding="utf-8")
    assert main(["eval-groups", "--jsonl", str(path)]) == 0
    out = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert out == [
        {"text": "Интернет не работает во всём офисе", "cluster": 1},
        {"text": "my email password expired", "cluster": None},
        {"text": "internet is down for everyone", "cluster": 1},
        {"text": "привет", "cluster": None},
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"text": "x", "group": "a"}\n{oops\n', "reports.jsonl:2: not valid JSON"),
        (b'{"text": "no label"}\n', 'reports.jsonl:1: needs a "group" label'),
        (b'{"text": "x", "group": 3}\n', '"group" must be a string'),
        (b'{"text": "x", "group": "a", "category": "weather"}\n', "category 'weather' is not one of"),
        (b"\n\n", "no labelled rows"),
        (b"\xff\xfe not text", "not UTF-8"),
    ],
)
def test_a_bad_file_is_one_error_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes, message: str
) -> None:
    path = tmp_path / "reports.jsonl"
    path.write_bytes(content)
    assert main(["eval-groups", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("error: ") and message in captured.err
    assert captured.err.count("\n") == 1


def test_a_missing_file_is_one_error_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval-groups", str(tmp_path / "nope.jsonl")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "nope.jsonl: cannot read" in err and err.count("\n") == 1

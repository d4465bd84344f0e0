"""`python -m bot classify` / `eval` functions: output format and clear errors on bad files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.cli_triage import classify_main, eval_main

DEV = Path(__file__).resolve().parents[1] / "data" / "classify_dev.jsonl"


pytestmark = pytest.mark.usefixtures("triage")  # tests/conftest.py: the model from a temporary cache


def test_classify_texts_prints_one_json_object_each(capsys: pytest.CaptureFixture[str]) -> None:
    assert classify_main(["инет тупит жесть", "нужен доступ в гитлаб"], None) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    first, second = (json.loads(line) for line in lines)
    for key in ("type", "category", "priority", "impact", "urgency", "confidence", "explanation"):
        assert key in first
    assert first["text"] == "инет тупит жесть" and first["category"] == "network"
    assert second["type"] == "service_request" and second["category"] == "access"
    assert "инет" in lines[0]  # ensure_ascii=False


def test_classify_jsonl_uses_text_and_answers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "in.jsonl"
    path.write_text(
        '{"text": "wifi down again"}\n\n{"text": "printer broken", "impact": "organization", "urgency": "blocked"}\n',
        encoding="utf-8",
    )
    assert classify_main([], path) == 0
    out = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [o["category"] for o in out] == ["network", "hardware"]
    assert out[1]["priority"] == "P1" and out[1]["impact_inferred"] is False


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"text": "ok"}\n{oops\n', "in.jsonl:2: not valid JSON"),
        ('{"txt": "no text key"}\n', 'string "text"'),
        ('["a list"]\n', 'string "text"'),
        ('{"text": "x", "urgency": "whenever"}\n', "urgency 'whenever' is not one of"),
    ],
)
def test_classify_jsonl_malformed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, message: str
) -> None:
    path = tmp_path / "in.jsonl"
    path.write_text(content, encoding="utf-8")
    assert classify_main([], path) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_eval_dev_sample(capsys: pytest.CaptureFixture[str]) -> None:
    assert eval_main(DEV) == 0
    out = capsys.readouterr().out
    assert "type accuracy: " in out and "category accuracy: " in out
    type_acc = float(out.split("type accuracy: ")[1].split()[0])
    cat_acc = float(out.split("category accuracy: ")[1].split()[0])
    assert type_acc >= 0.95 and cat_acc >= 0.85
    assert "precision" in out and "recall" in out and "f1" in out and "support" in out
    assert "confusion matrix" in out
    for name in ("hardware", "information", "macro avg"):
        assert name in out


def test_eval_accepts_type_only_labels(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "labels.jsonl"
    path.write_text('{"text": "принтер не печатает", "type": "incident"}\n', encoding="utf-8")
    assert eval_main(path) == 0
    out = capsys.readouterr().out
    assert "type accuracy: 1.000" in out and "category accuracy: n/a" in out


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"text": "a", "category": "hardware"}\nnot json\n', "labels.jsonl:2: not valid JSON"),
        ('{"text": "a", "category": "toaster"}\n', "category 'toaster' is not one of"),
        ('{"text": "a", "type": "incident", "category": "access"}\n', "contradicts"),
        ('{"text": "a"}\n', 'needs a "category" or a "type"'),
        ("", "no labelled rows"),
    ],
)
def test_eval_malformed_file(tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, message: str) -> None:
    path = tmp_path / "labels.jsonl"
    path.write_text(content, encoding="utf-8")
    assert eval_main(path) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_eval_missing_or_binary_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert eval_main(tmp_path / "nope.jsonl") == 2
    assert "cannot read" in capsys.readouterr().err
    binary = tmp_path / "bin.jsonl"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    assert eval_main(binary) == 2
    assert "UTF-8" in capsys.readouterr().err

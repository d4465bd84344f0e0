"""The one list of what the intake offers before the form (bot/intake_offers.py), for the chat and the
console: a known outage first, then articles when KB_DIR has any; KB_DIR problems at start."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bot.intake_offers import article_matcher, load_self_help, offer_providers
from bot.startup import StartupError
from helpdesk.policy import DeskPolicy
from helpdesk.triage import Triage

SAMPLE = Path(__file__).resolve().parents[2] / "docs" / "kb-sample"


def test_a_known_outage_first_then_articles(triage: Triage) -> None:
    assert [p.name for p in offer_providers(DeskPolicy(), triage)] == ["known_outage"]
    with_kb = DeskPolicy(kb_dir=str(SAMPLE))
    assert [p.name for p in offer_providers(with_kb, triage)] == ["known_outage", "articles"]
    assert article_matcher(with_kb.knowledge, triage) is article_matcher(with_kb.knowledge, triage)  # indexed once


def test_a_malformed_article_or_a_missing_folder_stops_the_start(tmp_path: Path) -> None:
    (tmp_path / "wifi.en.md").write_text("# Wi-Fi\n\nConnect.\n", encoding="utf-8")
    with pytest.raises(StartupError, match=r"^KB_DIR: .*: 1 problem: wifi: no wifi\.ru\.md$") as caught:
        load_self_help(DeskPolicy(kb_dir=str(tmp_path)))
    assert caught.value.code == 2
    with pytest.raises(StartupError, match=r"^KB_DIR: .*missing: no such directory$"):
        load_self_help(DeskPolicy(kb_dir=str(tmp_path / "missing")))


def test_an_empty_folder_is_a_warning_and_no_self_help(
    tmp_path: Path, triage: Triage, caplog: pytest.LogCaptureFixture
) -> None:
    policy = DeskPolicy(kb_dir=str(tmp_path))
    with caplog.at_level(logging.WARNING):
        assert not load_self_help(policy)
    assert f"KB_DIR {tmp_path} has no articles" in caplog.text
    assert [p.name for p in offer_providers(policy, triage)] == ["known_outage"]

"""Texts with a number in them agree with it: CLDR's plural rules, in Russian and English."""

from __future__ import annotations

import pytest

from helpdesk.i18n import plural_form, t, to_plain


@pytest.mark.parametrize(
    ("count", "form", "files"),
    [
        (1, "one", "1 файл"),
        (2, "few", "2 файла"),
        (5, "many", "5 файлов"),
        (11, "many", "11 файлов"),
        (21, "one", "21 файл"),
        (22, "few", "22 файла"),
        (25, "many", "25 файлов"),
        (12, "many", "12 файлов"),
        (111, "many", "111 файлов"),
        (0, "many", "0 файлов"),
    ],
)
def test_russian_counts(count: int, form: str, files: str) -> None:
    assert plural_form("ru", count) == form
    assert files in t("ru", "intake.attachment_received", count=count)
    assert files in t("ru", "intake.too_many_attachments", count=count)


@pytest.mark.parametrize(
    ("count", "form", "files"), [(1, "one", "1 file."), (2, "other", "2 files."), (0, "other", "0 files.")]
)
def test_english_counts(count: int, form: str, files: str) -> None:
    assert plural_form("en", count) == form
    assert files in t("en", "intake.attachment_received", count=count)


def test_a_counted_phrase_inside_a_longer_text() -> None:
    assert "следующую 1 секунду" in t("ru", "flood.slow_down", during=t("ru", "flood.next_seconds", count=1))
    assert "следующие 3 секунды" in t("ru", "flood.slow_down", during=t("ru", "flood.next_seconds", count=3))
    assert "for the next 60 seconds" in t("en", "flood.slow_down", during=t("en", "flood.next_seconds", count=60))
    assert to_plain(t("ru", "reports.export.too_large", count=22)).startswith("📄 22 заявки —")
    assert t("en", "reports.first_response", median="1 h", count=1) == "First response, median: 1 h (1 ticket)"
    assert "3 похожих инцидента" in t("ru", "major.proposal.similar", count=3)


def test_a_text_with_plural_forms_needs_a_whole_count() -> None:
    with pytest.raises(TypeError, match="count"):
        t("ru", "intake.attachment_received")
    with pytest.raises(TypeError, match="count"):
        t("ru", "intake.attachment_received", count="3")


def test_staff_and_report_counts_in_english() -> None:
    assert t("en", "reports.period.hours", count=1) == "Last 1 hour"
    assert t("en", "reports.period.hours", count=24) == "Last 24 hours"
    assert "; 1 following customer told." in t("en", "major.outage.ended", service="VPN", count=1)
    assert "; 2 following customers told." in t("en", "major.outage.updated", service="VPN", count=2)
    assert t("ru", "reports.period.hours", count=1) == "за 1 ч"


def test_the_flood_digest_counts_one_held_message_in_the_singular() -> None:
    one = t("en", "flood.staff.digest", number="INC-000001", name="Ann", count=1, text="hello?")
    assert "Ann sent 1 message within a minute; flood control held it" in one
    assert "Ann sent 3 messages within a minute; flood control held them" in t(
        "en", "flood.staff.digest", number="INC-000001", name="Ann", count=3, text="hello?"
    )
    alone = t("en", "flood.staff.digest_no_ticket", name="Dana", count=1, text="hi")
    assert "Dana (no open ticket) sent 1 message within a minute" in alone

"""What /stats and /export answer, decided in the domain: a chart or a CSV with its caption, the text alone
for an empty period or a file too large for Telegram, PeriodError for a period nobody can report on."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest

from helpdesk import report_answers
from helpdesk.report_period import PeriodError
from storage.db import Database
from tests.unit.test_stats import make

NOW = datetime(2026, 3, 31, 12, 0, tzinfo=UTC)


async def test_chart_and_csv(db: Database) -> None:
    await make(db, created_at=NOW - timedelta(days=1))
    await make(db, created_at=NOW - timedelta(days=20))
    async with db.read() as session:
        chart = await report_answers.stats_answer(session, "7d", "Europe/Moscow", "ru", NOW)
        export = await report_answers.export_answer(session, "30d", "Europe/Moscow", "en", NOW)
    assert chart.upload is not None and chart.upload.kind == "photo" and chart.upload.mime_type == "image/png"
    assert chart.upload.data.startswith(b"\x89PNG\r\n\x1a\n") and chart.upload.filename == "stats-2026-03-31.png"
    assert "Статистика" in chart.text and "Новых заявок:</b> 1" in chart.text
    assert export.upload is not None and export.upload.kind == "document"
    assert export.upload.filename == "tickets-2026-03-02-2026-03-31.csv"
    rows = list(csv.DictReader(io.StringIO(export.upload.data.decode("utf-8-sig"))))
    assert len(rows) == 2 and "Tickets created · Last 30 days" in export.text and export.text.endswith(": 2")


async def test_empty_period_and_bad_periods(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    await make(db, created_at=NOW - timedelta(days=20))
    async with db.read() as session:
        quiet = await report_answers.stats_answer(session, "", "UTC", "en", NOW)
        nothing = await report_answers.export_answer(session, "24h", "UTC", "en", NOW)
        for bad in ("7x", "30", "0d", "1000d"):
            with pytest.raises(PeriodError):
                await report_answers.stats_answer(session, bad, "UTC", "en", NOW)
        monkeypatch.setattr(report_answers, "DOCUMENT_LIMIT", 100)
        too_large = await report_answers.export_answer(session, "30d", "UTC", "en", NOW)
    assert quiet.upload is None and "No tickets in this period: Last 7 days" in quiet.text
    assert nothing.upload is None and "Nothing to export" in nothing.text
    assert too_large.upload is None and "too large for Telegram" in too_large.text

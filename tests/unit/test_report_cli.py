"""`python -m bot report` as an operator runs it: text, CSV and PNG from the configured database, one
`error:` line and exit 2 for a bad value, exit 3 for a database that cannot be reached."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from pathlib import Path

import pytest
from PIL import Image

from bot.cli_report import UsageError, parse_request
from bot.config import Settings
from helpdesk import report_chart, report_period, stats
from helpdesk.clock import now_utc
from helpdesk.i18n import t
from storage import migrate
from storage.db import Database
from tests.support.botproc import run_cli
from tests.support.databases import sqlite_url
from tests.unit.test_stats import make

PNG = b"\x89PNG\r\n\x1a\n"


def env(database_url: str) -> dict[str, str]:
    return {"DATABASE_URL": database_url, "TIMEZONE": "Europe/Moscow", "BOT_ENV_FILE": ""}


async def seed(db: Database) -> None:
    now = now_utc()
    await make(db, created_at=now - timedelta(days=2), first_response_at=now - timedelta(days=2) + timedelta(minutes=9),
               assignee_name="=HYPERLINK(\"http://x\")", state="in_progress")  # fmt: skip
    await make(db, created_at=now - timedelta(hours=3), team="network")
    await make(db, created_at=now - timedelta(days=40))


async def test_csv_one_row_per_ticket(db: Database, tmp_path: Path) -> None:
    await seed(db)
    out = tmp_path / "out" / "tickets.csv"
    result = run_cli(["report", "--since", "30d", "--format", "csv", "-o", str(out)], env(db.url), workdir=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == f"2 tickets written to {out}"
    data = out.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")  # the BOM Excel needs for UTF-8
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    assert len(rows) == 2 and list(rows[0])[:5] == ["number", "type", "category", "priority", "state"]
    assert {"team", "cause", "sla_met", "satisfaction"} <= set(rows[0])
    answered = next(row for row in rows if row["first_response"])
    assert answered["assignee"] == '\'=HYPERLINK("http://x")'  # never a formula in a spreadsheet
    assert answered["first_response_sla_met"] == "yes" and answered["team"] == "" and answered["cause"] == ""
    assert next(row for row in rows if not row["first_response"])["team"] == "network"  # the team working it


async def test_text_and_png(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "bot.db")
    db = Database(url)
    try:
        await migrate.upgrade(db)
        await seed(db)
    finally:
        await db.dispose()
    text = run_cli(["report", "--since", "7d", "--lang", "ru"], env(url), workdir=tmp_path)
    assert text.returncode == 0, text.stderr
    assert "Статистика · за 7 дн." in text.stdout and "<b>" not in text.stdout
    assert "По статусам: Новая: 2, В работе: 1" in text.stdout  # was "new 2, in_progress 1": codes
    assert not [code for code in ("incident", "hardware", "in_progress", " new ") if code in text.stdout]
    chart = tmp_path / "week.png"
    result = run_cli(["report", "--format", "png", "-o", str(chart)], env(url), workdir=tmp_path)
    assert result.returncode == 0, result.stderr
    assert chart.read_bytes().startswith(PNG)
    with Image.open(chart) as image:
        assert image.size == (1080, 1800)
    # an hour with no tickets: still a chart (it exited 1 and wrote nothing, so a scheduled report failed
    # and last period's image stayed in place), and the operator is told it is empty
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"last week's chart")
    result = run_cli(["report", "--since", "1h", "--format", "png", "-o", str(empty)], env(url), workdir=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == f"chart written to {empty} (no tickets in this period)"
    with Image.open(empty) as image:
        assert image.format == "PNG" and image.size == (1080, 1800)


@pytest.mark.parametrize("lang", ["en", "ru"])
def test_the_chart_of_an_empty_period_says_so_on_every_panel(lang: str, monkeypatch: pytest.MonkeyPatch) -> None:
    said: list[str] = []
    monkeypatch.setattr(report_chart, "_no_data", lambda _ax, text: said.append(text))
    period = report_period.last(report_period.parse_period("7d"), now_utc(), "UTC")
    report = stats.DeskReport(period=period, created=tuple({} for _ in range(period.buckets)))
    assert report.empty and report_chart.render_png(report, lang).startswith(PNG)
    assert said == [
        t(lang, "reports.chart.no_tickets"),  # the new-tickets panel was empty axes with no word
        t(lang, "reports.chart.no_data"),
        t(lang, "reports.chart.no_backlog"),
        t(lang, "reports.chart.no_data"),
    ]


@pytest.mark.parametrize(
    ("since", "fmt", "lang", "message"),
    [
        ("7x", "text", None, "--since: '7x' is not a period"),
        ("30", "text", None, "--since: '30' has no unit"),
        ("0d", "text", None, "--since: '0d' is outside 1h…366d"),
        ("500d", "text", None, "--since: '500d' is outside 1h…366d"),
        ("7d", "pdf", None, "--format 'pdf': use text, csv or png"),
        ("7d", "text", "de", "--lang 'de': use en or ru"),
    ],
)
def test_bad_values_are_named(since: str, fmt: str, lang: str | None, message: str) -> None:
    with pytest.raises(UsageError, match="^" + message.replace("(", r"\(")):
        parse_request(Settings(_env_file=None), since, fmt, "-", lang)


def test_bad_values_end_in_one_line_and_exit_2_or_3(tmp_path: Path) -> None:
    result = run_cli(["report", "--since", "soon"], env(sqlite_url(tmp_path / "bot.db")), workdir=tmp_path)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.strip().splitlines() == ["error: --since: 'soon' is not a period (use e.g. 7d, 30d, 24h)"]
    unreachable = run_cli(["report"], env("postgresql://nobody@127.0.0.1:1/x"), workdir=tmp_path)
    assert unreachable.returncode == 3 and len(unreachable.stderr.strip().splitlines()) == 1
    assert unreachable.stderr.startswith("error: cannot reach the database")

"""`python -m bot report`: the desk's figures for operators, as text, CSV or the /stats chart.

The same report agents get with /stats and /export, read from the configured database without the
bot running. Mistakes in the options are one `error:` line and exit 2; a database that cannot be
reached is one line and exit 3.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from bot.database import database
from bot.operator_errors import ConfigError
from helpdesk import report_chart, report_csv, report_period, stats
from helpdesk.clock import now_utc
from helpdesk.i18n import LANGUAGES, to_plain
from storage import reports

FORMATS = ("text", "csv", "png")


@dataclass(frozen=True)
class ReportRequest:
    period: report_period.Period
    format: str
    output: str
    lang: str


class UsageError(ConfigError):
    """An option operators got wrong: one `error:` line, exit 2 (printed by bot.cli.main)."""


def parse_request(settings: Any, since: str, fmt: str, output: str, lang: str | None) -> ReportRequest:
    fmt = (fmt or "").strip().lower()
    if fmt not in FORMATS:
        raise UsageError(f"--format {fmt!r}: use text, csv or png")
    lang = (lang or settings.default_language).strip().lower()
    if lang not in LANGUAGES:
        raise UsageError(f"--lang {lang!r}: use en or ru")
    try:
        length = report_period.parse_period(since)
    except report_period.PeriodError as exc:
        raise UsageError(f"--since: {exc}") from None
    if fmt == "png" and output == "-" and sys.stdout.isatty():
        raise UsageError("--format png writes an image: give -o FILE.png (or redirect the output)")
    period = report_period.last(length, now_utc(), settings.timezone)  # TIMEZONE was checked with the settings
    return ReportRequest(period, fmt, output, lang)


@contextmanager
def _binary_output(output: str) -> Iterator[BinaryIO]:
    if output == "-":
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    path = Path(output)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        yield handle


async def _produce(settings: Any, request: ReportRequest) -> tuple[bytes, str]:
    """The file's bytes and a line for the operator."""
    now = request.period.end
    async with database(settings) as db, db.read() as session:
        if request.format == "csv":
            rows = await reports.export_rows(session, request.period.start, request.period.end, now)
            data = report_csv.to_csv(rows, settings.timezone, bom=request.output != "-")
            return data, f"{len(rows)} tickets written to {request.output}"
        report = await stats.build(session, request.period, now)
    if request.format == "text":
        text = stats.render_empty(report, request.lang) if report.empty else stats.render(report, request.lang)
        return to_plain(text).encode() + b"\n", ""
    # an empty period still gets its chart (each panel says there is no data), so a scheduled report
    # never leaves last period's image in place, nor fails the job, for a quiet week
    note = f"chart written to {request.output}" + (" (no tickets in this period)" if report.empty else "")
    return report_chart.render_png(report, request.lang), note


def report_main(settings: Any, since: str, fmt: str, output: str, lang: str | None) -> int:
    """Write the report; a bad option or an unreachable database raises an `OperatorError` (bot.cli)."""
    request = parse_request(settings, since, fmt, output, lang)
    data, note = asyncio.run(_produce(settings, request))
    try:
        with _binary_output(request.output) as out:
            out.write(data)
    except OSError as exc:
        raise ConfigError(f"-o {request.output}: {exc.strerror or exc}") from None
    if note and request.output != "-":
        print(note, file=sys.stderr)
    return 0

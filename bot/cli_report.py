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

from sqlalchemy.exc import DBAPIError, OperationalError

from helpdesk import report_chart, report_csv, report_period, stats
from helpdesk.clock import now_utc
from helpdesk.i18n import LANGUAGES, to_plain
from storage import reports
from storage.db import Database
from storage.migrate import upgrade

FORMATS = ("text", "csv", "png")


@dataclass(frozen=True)
class ReportRequest:
    period: report_period.Period
    format: str
    output: str
    lang: str


class UsageError(ValueError):
    """An option operators got wrong: printed as one `error:` line, exit 2."""


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
    try:
        period = report_period.last(length, now_utc(), settings.timezone)
    except (KeyError, ValueError):  # ZoneInfoNotFoundError is a KeyError
        raise UsageError(f"TIMEZONE {settings.timezone!r} is not a time zone (e.g. Europe/Moscow, UTC)") from None
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


async def _produce(settings: Any, request: ReportRequest) -> tuple[bytes | None, str]:
    """The file's bytes (None: nothing to write) and a line for the operator."""
    db = Database(settings.database_url)
    try:
        await upgrade(db)
        now = request.period.end
        async with db.read() as session:
            if request.format == "csv":
                rows = await reports.export_rows(session, request.period.start, request.period.end, now)
                data = report_csv.to_csv(rows, settings.timezone, bom=request.output != "-")
                return data, f"{len(rows)} tickets written to {request.output}"
            report = await stats.build(session, request.period, now)
    finally:
        await db.dispose()
    if report.empty:
        empty = to_plain(stats.render_empty(report, request.lang))
        return (empty.encode() + b"\n", "") if request.format == "text" else (None, empty)
    if request.format == "text":
        return to_plain(stats.render(report, request.lang)).encode() + b"\n", ""
    return report_chart.render_png(report, request.lang), f"chart written to {request.output}"


def report_main(settings: Any, since: str, fmt: str, output: str, lang: str | None) -> int:
    try:
        request = parse_request(settings, since, fmt, output, lang)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        data, note = asyncio.run(_produce(settings, request))
    except (OSError, OperationalError, DBAPIError) as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        print(f"error: cannot reach the database: {reason}", file=sys.stderr)
        return 3
    if data is None:  # an empty period: no image rather than a chart of nothing
        print(note, file=sys.stderr)
        return 1
    try:
        with _binary_output(request.output) as out:
            out.write(data)
    except OSError as exc:
        print(f"error: -o {request.output}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    if note and request.output != "-":
        print(note, file=sys.stderr)
    return 0

"""The tickets of a period as CSV (`/export`, `python -m bot report --format csv`), for spreadsheets.

One row per ticket, a header row, UTF-8. Files start with a byte-order mark, which Excel needs to
read UTF-8 (Cyrillic names) and other programs skip. Times are local to TIMEZONE, written
`YYYY-MM-DD HH:MM:SS` so every spreadsheet reads them as dates. A cell that starts with `=`, `+`,
`-`, `@`, a tab or a carriage return gets a leading `'` (OWASP's advice against CSV injection): an
agent's display name comes from Telegram and could otherwise run as a formula when the file is opened.

`cause` is the closing report's cause by its code word (`supplier`, `technical`…; empty for requests and
open tickets); `team` is the team working the ticket (TEAMS, docs/teams.md), empty for the general desk
and on desks without teams.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from datetime import datetime
from zoneinfo import ZoneInfo

from storage.reports import ExportRow

COLUMNS = (
    "number",
    "type",
    "category",
    "priority",
    "state",
    "created",
    "first_response",
    "resolved",
    "closed",
    "sla_met",
    "first_response_sla_met",
    "resolution_sla_met",
    "assignee",
    "team",
    "satisfaction",
    "cause",
)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
BOM = "\ufeff"


def safe_cell(value: str) -> str:
    """Text a spreadsheet shows as text, never runs as a formula."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def _yes_no(met: bool | None) -> str:
    return "" if met is None else ("yes" if met else "no")


def overall_met(first_response: bool | None, resolution: bool | None) -> bool | None:
    """No as soon as one clock breached, yes once both were met, empty while one is still running."""
    if first_response is False or resolution is False:
        return False
    if first_response and resolution:
        return True
    return None


def _cells(row: ExportRow, zone: ZoneInfo) -> list[str]:
    def moment(value: datetime | None) -> str:
        return value.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S") if value is not None else ""

    cells = [
        row.number,
        row.ticket_type,
        row.category,
        row.priority,
        row.state,
        moment(row.created),
        moment(row.first_response),
        moment(row.resolved),
        moment(row.closed),
        _yes_no(overall_met(row.first_response_met, row.resolution_met)),
        _yes_no(row.first_response_met),
        _yes_no(row.resolution_met),
        row.assignee or "",
        row.team or "",
        "" if row.rating is None else str(row.rating),
        row.cause or "",
    ]
    return [safe_cell(cell) for cell in cells]


def to_csv(rows: Iterable[ExportRow], zone_name: str, *, bom: bool = True) -> bytes:
    """The file's bytes: header, then one line per row (CRLF line ends, as RFC 4180 has them)."""
    zone = ZoneInfo(zone_name)
    out = io.StringIO()
    if bom:
        out.write(BOM)
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    writer.writerows(_cells(row, zone) for row in rows)
    return out.getvalue().encode("utf-8")

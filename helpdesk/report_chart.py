"""The /stats chart: one portrait PNG that reads on a phone, drawn headless with matplotlib's Agg.

Four panels stacked (a phone shows an image full width, so one column of wide panels beats a grid):
new tickets per bucket by type, first-response and resolution SLA met in %, the backlog by state now,
and the satisfaction trend. Labels come from the catalogs, so the chart speaks the agent's language;
the default font (DejaVu Sans, shipped with matplotlib) covers Latin and Cyrillic.
"""

from __future__ import annotations

import io
import math
from typing import Any

from helpdesk.i18n import t, t_list
from helpdesk.stats import BACKLOG_STATES, TYPES, DeskReport, period_span, period_title

WIDTH, HEIGHT, DPI = 7.2, 12.0, 150  # 1080 × 1800 px: Telegram keeps it sharp, a phone shows it full width
COLORS = {"incident": "#d1495b", "service_request": "#2e86ab", "first_response": "#2e86ab", "resolution": "#edae49"}
STATE_COLORS = {"new": "#d1495b", "in_progress": "#2e86ab", "waiting_customer": "#edae49", "resolved": "#8d99ae"}
INK, GRID = "#222222", "#dddddd"


def _labels(report: DeskReport, lang: str) -> list[str]:
    """Axis labels: `14:00` for hours, `Mon 28` for up to two weeks of days, `28.11` for more days or weeks."""
    period = report.period
    starts = period.bucket_starts()
    if period.unit == "hour":
        return [f"{s:%H}:00" for s in starts]
    if period.unit == "week" or len(starts) > 14:
        return [f"{s:%d.%m}" for s in starts]
    weekdays = t_list(lang, "reports.chart.weekdays")
    return [f"{weekdays[s.weekday()]} {s.day}" for s in starts]


def _thin(labels: list[str], most: int = 8) -> list[str]:
    """Every k-th label only, so a month of days does not overprint (the last one always shown)."""
    step = max(1, math.ceil(len(labels) / most))
    return [label if (len(labels) - 1 - i) % step == 0 else "" for i, label in enumerate(labels)]


def _style(ax: Any, title: str) -> None:
    ax.set_title(title, loc="left", fontsize=14, fontweight="bold", color=INK, pad=10)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.tick_params(labelsize=11, colors=INK)
    ax.grid(axis="y", color=GRID, linewidth=0.8)
    ax.set_axisbelow(True)


def _no_data(ax: Any, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", fontsize=13, color="#888888", transform=ax.transAxes)
    ax.set_xticks([])
    ax.set_yticks([])


def _created(ax: Any, report: DeskReport, lang: str, x: list[int], labels: list[str]) -> None:
    unit = t(lang, f"reports.chart.unit_{report.period.unit}")
    _style(ax, t(lang, "reports.chart.created", unit=unit))
    if not report.created_total:  # said in words: empty axes read like a chart that failed to draw
        _no_data(ax, t(lang, "reports.chart.no_tickets"))
        return
    bottom = [0] * len(x)
    for ticket_type in TYPES:
        heights = [bucket.get(ticket_type, 0) for bucket in report.created]
        ax.bar(
            x,
            heights,
            0.75,
            bottom=bottom,
            color=COLORS[ticket_type],
            label=t(lang, f"reports.chart.type.{ticket_type}"),
        )
        bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
    if len(x) <= 16:
        for i, total in enumerate(bottom):
            if total:
                ax.annotate(str(total), (i, total), ha="center", va="bottom", fontsize=11, color=INK,
                            xytext=(0, 2), textcoords="offset points")  # fmt: skip
    ax.set_ylim(0, max(max(bottom) * 1.3, 1))  # room for the legend above the bars
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.set_xticks(x, _thin(labels))
    ax.legend(loc="upper left", fontsize=11, frameon=False, ncols=2)


def _sla(ax: Any, report: DeskReport, lang: str, x: list[int], labels: list[str]) -> None:
    _style(ax, t(lang, "reports.chart.sla"))
    drawn = False
    for clock, marker, size in (("first_response", "o", 9), ("resolution", "s", 5)):  # both visible at 100%
        figures = getattr(report, clock)
        if not figures.decided:
            continue
        values = [100.0 * met / decided if decided else math.nan for met, decided in figures.per_bucket]
        label = f"{t(lang, f'reports.chart.{clock}')} · {figures.met_percent:.0f}%"
        ax.plot(x, values, marker=marker, markersize=size, linewidth=2.2, color=COLORS[clock], label=label)
        drawn = True
    if not drawn:
        _no_data(ax, t(lang, "reports.chart.no_data"))
        return
    ax.set_ylim(-4, 112)
    ax.set_yticks([0, 25, 50, 75, 100])
    ax.set_xlim(-0.6, len(x) - 0.4)
    ax.set_xticks(x, _thin(labels))
    ax.legend(loc="lower left", fontsize=11, frameon=False, ncols=2)


def _backlog(ax: Any, report: DeskReport, lang: str) -> None:
    """One bar per state, its name and count written above it (long names need no margin that way)."""
    _style(ax, t(lang, "reports.chart.backlog"))
    ax.grid(False)
    counts = [report.by_state.get(state, 0) for state in BACKLOG_STATES]
    if not any(counts):
        _no_data(ax, t(lang, "reports.chart.no_backlog"))
        return
    top = max(counts)
    for row, state in enumerate(BACKLOG_STATES):
        y = len(BACKLOG_STATES) - 1 - row
        ax.barh(y, max(counts[row], top * 0.004), 0.42, color=STATE_COLORS[state])
        name = t(lang, f"reports.chart.state.{state}")
        ax.text(0, y + 0.27, f"{name}: {counts[row]}", va="bottom", fontsize=12, color=INK)
    ax.set_xlim(0, top * 1.05)
    ax.set_ylim(-0.4, len(BACKLOG_STATES) - 0.1)
    ax.set_yticks([])
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.spines["left"].set_visible(False)


def _rating(ax: Any, report: DeskReport, lang: str, x: list[int], labels: list[str]) -> None:
    _style(ax, t(lang, "reports.chart.rating"))
    average, count = report.rating
    if average is None:
        _no_data(ax, t(lang, "reports.chart.no_data"))
        return
    values = [total / n if n else math.nan for total, n in report.ratings]
    label = f"{average:.1f} · {t(lang, 'reports.chart.ratings', count=count)}"
    ax.plot(x, values, marker="o", markersize=6, linewidth=2.2, color="#3c8d2f", label=label)
    ax.set_ylim(0.8, 5.4)
    ax.set_yticks([1, 2, 3, 4, 5])
    ax.set_xlim(-0.6, len(x) - 0.4)
    ax.set_xticks(x, _thin(labels))
    ax.legend(loc="lower left", fontsize=11, frameon=False)


def render_png(report: DeskReport, lang: str) -> bytes:
    """The chart as PNG bytes."""
    # matplotlib costs a third of a second of CPU to import: loaded at the first chart, not at every start
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    # fixed margins: a layout engine would measure every label by drawing the figure one more time
    figure = Figure(figsize=(WIDTH, HEIGHT), dpi=DPI)
    figure.subplots_adjust(left=0.1, right=0.96, top=0.93, bottom=0.03, hspace=0.42)
    FigureCanvasAgg(figure)
    period = report.period
    title = period_title(period, lang)
    figure.suptitle(
        t(lang, "reports.chart.title", period=title[:1].upper() + title[1:], span=period_span(period)),
        fontsize=15,
        color=INK,
    )
    created, sla, backlog, rating = figure.subplots(4, 1, height_ratios=[1.15, 1, 0.8, 0.85])
    x = list(range(period.buckets))
    labels = _labels(report, lang)
    _created(created, report, lang, x, labels)
    _sla(sla, report, lang, x, labels)
    _backlog(backlog, report, lang)
    _rating(rating, report, lang, x, labels)
    out = io.BytesIO()
    # zlib level 3 instead of 6: a third larger file, half the encoding time
    figure.savefig(out, format="png", metadata={"Software": None}, pil_kwargs={"compress_level": 3})
    return out.getvalue()

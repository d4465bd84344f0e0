"""The recurring-problem figures of /stats and `python -m bot report` on real SQLite and PostgreSQL:
incidents by cause, service and category against the period before, repeat reporters, major incidents
with their linked counts, and the CSV's cause column."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from helpdesk import problem_report, report_csv, stats, tickets
from helpdesk.clock import now_utc
from helpdesk.i18n import to_plain
from helpdesk.people import Person, ensure_customer
from helpdesk.vocabulary import Category, Impact, Priority, Urgency
from storage import reports
from storage.db import Database
from storage.models import Ticket
from storage.problem_reports import Reporter
from tests.unit.test_stats import POLICY

DAY = timedelta(days=1)


async def incident(db: Database, who: int, name: str, ago: timedelta, **fields: Any) -> Ticket:
    """An incident of customer `who`, registered `ago`, then `fields` as its history left them."""
    now = now_utc()
    async with db.session() as session:
        person = await ensure_customer(session, Person(user_id=who, chat_id=who, first_name=name))
        category = fields.pop("category", Category.NETWORK)
        new = tickets.NewTicket(
            description=fields.pop("description", "internet is down"),
            classification=tickets.Classification(
                category.ticket_type, category, Priority.P2, Impact.TEAM, Urgency.BLOCKED, 0.9, "test"
            ),
            service_key=fields.pop("service_key", "internet"),
        )
        ticket = await tickets.register(session, person, new, POLICY)
        ticket.created_at = now - ago
        for key, value in fields.items():
            setattr(ticket, key, value)
        session.add(ticket)
        return ticket


async def test_causes_services_categories_reporters_and_major_incidents(db: Database) -> None:
    now = now_utc()
    outage = "Internet down in the whole office"
    parent = await incident(db, 501, "Ann", 2 * DAY, is_major=True, state="closed", cause="supplier",
                            resolved_at=now - DAY, closed_at=now - DAY, description=outage)  # fmt: skip
    for who, name in ((502, "Bob"), (503, "Vera"), (501, "Ann")):  # linked reports: one outage, counted once
        await incident(db, who, name, 2 * DAY, parent_id=parent.id, state="closed", cause="supplier",
                       resolved_at=now - DAY)  # fmt: skip
    await incident(db, 504, "Dan", 3 * DAY, state="resolved", cause="technical", resolved_at=now - 2 * DAY,
                   category=Category.HARDWARE, service_key="printer", description="printer jammed")  # fmt: skip
    await incident(db, 504, "Dan", DAY, category=Category.HARDWARE, service_key="printer", description="jammed again")
    # the week before: two internet incidents, one power failure
    await incident(db, 505, "Eve", 9 * DAY, cause="power", resolved_at=now - 9 * DAY, state="closed")
    await incident(db, 506, "Fay", 10 * DAY)

    async with db.read() as session:
        report = await stats.compute(session, period="7d")
    figures = report.problems
    assert figures.incidents == (3, 2)
    assert figures.by_cause == {"supplier": (1, 0), "technical": (1, 0), "power": (0, 1)}
    assert figures.by_service == {"internet": (1, 2), "printer": (2, 0)}
    assert figures.by_category == {"network": (1, 2), "hardware": (2, 0)}
    assert [(r.name, r.tickets) for r in figures.reporters] == [("Ann", 2), ("Dan", 2)]
    assert [(m.number, m.linked, m.state) for m in figures.majors] == [(parent.number, 3, "closed")]

    text = to_plain(stats.render(report, "en"))
    assert "Incidents: 3 (before: 2, +1)" in text
    assert "By cause (resolved): supplier failure: 1 (+1), technical fault: 1 (+1)" in text
    assert "Most incidents by service: Printer or scanner: 2 (+2), Internet: 1 (−1)" in text
    assert "Most incidents by category: Hardware: 2 (+2), Network: 1 (−1)" in text  # like "By type: Incident: 3"
    assert "Reported more than once: Ann: 2, Dan: 2" in text
    assert f"Major incidents: {parent.number} (Internet down in the whole office): 3 linked, Closed" in text
    ru = to_plain(stats.render(report, "ru"))
    assert "сбой поставщика: 1 (+1)" in ru and "Оборудование: 2 (+2), Сеть: 1 (−1)" in ru

    async with db.read() as session:
        rows = await reports.export_rows(session, now - 7 * DAY, now, now)
    data = report_csv.to_csv(rows, "UTC", bom=False).decode()
    assert sum(line.endswith(",supplier") for line in data.splitlines()) == 4
    assert data.splitlines()[0].endswith(",cause")


def test_change_is_signed() -> None:
    assert [problem_report.change(*pair) for pair in ((3, 1), (1, 3), (2, 2))] == ["+2", "−2", "±0"]


def test_names_typed_by_people_are_escaped_once_in_both_languages() -> None:
    figures = problem_report.ProblemFigures(
        incidents=(2, 0),
        by_service={"R&D <lab> printer": (2, 0), "": (1, 1)},
        reporters=(Reporter(name="Ann & Bob", username=None, tickets=2),),
    )
    en, ru = (problem_report.render(figures, lang) for lang in ("en", "ru"))
    assert "R&amp;D &lt;lab&gt; printer: 2 (+2), no service named: 1 (±0)" in en[3]
    assert to_plain(en[3]).endswith("R&D <lab> printer: 2 (+2), no service named: 1 (±0)")
    assert to_plain(en[5]) == "Reported more than once: Ann & Bob: 2"
    assert to_plain(ru[3]).endswith("R&D <lab> printer: 2 (+2), сервис не указан: 1 (±0)")


async def test_a_period_without_incidents_has_no_section(db: Database) -> None:
    async with db.read() as session:
        report = await stats.compute(session, period="7d")
    assert report.problems.empty and "Recurring problems" not in stats.render(report, "en")

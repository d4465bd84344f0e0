"""What agents see (helpdesk.agent_views): the queue and a ticket's details."""

from __future__ import annotations

import ast
from datetime import UTC, datetime
from pathlib import Path

import pytest

from helpdesk import agent_actions, agent_views
from helpdesk.content import Content
from helpdesk.i18n import has
from helpdesk.vocabulary import Priority
from storage.db import Database
from storage.models import Ticket, TicketEvent
from tests.unit.desk import AGENT, act, customer, ticket_for

ROOT = Path(__file__).resolve().parents[2]


async def test_queue_and_details(db: Database) -> None:
    ann = await customer(db)
    low = await ticket_for(db, ann, text="Low one")
    high = await ticket_for(db, ann, text="High one")
    await act(db, high, agent_actions.set_priority, AGENT, Priority.P1)
    await act(db, low, agent_actions.ask, AGENT, Content(text="Which room?"))
    async with db.read() as session:
        text, buttons = await agent_views.queue(session, "en")
        locked = await session.get(Ticket, low.id)
        details, files = await agent_views.details(session, locked, "en")
    assert text.index(high.number) < text.index(low.number)
    assert [data for row in buttons for _, data in row] == [f"ag:det:{high.id}", f"ag:det:{low.id}"]
    assert "History" in details and "New → Waiting on customer" in details and "Which room?" in details
    assert files == 0


#: functions that record an event, and where their kind is among the positional arguments
KIND_ARGUMENT = {"record_event": 2, "record_content": 2, "_triage_corrected": 5}


def _recorded_event_kinds() -> dict[str, str]:
    """Every event kind the product writes (a literal kind of record_event/record_content, `sla_*` spelled
    out), with where: read from the source, so a new kind without a name in the catalogs fails below."""
    found: dict[str, str] = {}
    for path in sorted(ROOT.glob("*/**/*.py")):
        if path.parts[len(ROOT.parts)] not in ("bot", "dialogs", "helpdesk", "scheduler", "storage"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            at = KIND_ARGUMENT.get(getattr(node.func, "attr", getattr(node.func, "id", "")))
            kind = node.args[at] if at is not None and len(node.args) > at else None
            if isinstance(kind, ast.Constant) and isinstance(kind.value, str):
                found[kind.value] = f"{path.relative_to(ROOT)}:{node.lineno}"
            elif isinstance(kind, ast.IfExp):  # "edited" if … else "message"
                for side in (kind.body, kind.orelse):
                    if isinstance(side, ast.Constant):
                        found[side.value] = f"{path.relative_to(ROOT)}:{node.lineno}"
    # passed through a variable: customers' messages, agents' replies and questions, corrections, SLA clocks
    return found | dict.fromkeys(("answer", "message", "reply", "question", "sla_warning", "sla_breach"), "(variable)")


@pytest.mark.parametrize("lang", ["en", "ru"])
def test_every_event_kind_has_a_name_in_the_agents_language(lang: str) -> None:
    """/ticket N's history names each event in words (was: the raw kind, "retype", "sla_breach"…)."""
    kinds = _recorded_event_kinds()
    assert {"created", "retype", "priority", "escalated", "sla_breach"} <= set(kinds)  # the scan sees them
    unnamed = {
        kind: where for kind, where in kinds.items() if kind != "state" and not has(lang, f"agents.event.{kind}")
    }
    assert not unnamed, f"event kinds with no agents.event.* text in {lang}: {unnamed}"


def test_a_history_line_reads_in_words_and_keeps_an_unknown_kind_readable() -> None:
    at = datetime(2026, 12, 6, 10, 0, tzinfo=UTC)
    retyped = TicketEvent(
        ticket_id=1,
        kind="retype",
        actor_kind="agent",
        actor_name="Олег",
        note="network → software",
        data={"from": {"category": "network"}, "to": {"category": "software"}},
        at=at,
    )
    assert "изменена категория: Сеть → Программы" in agent_views.event_line("ru", retyped)
    assert "category changed: Network → Software" in agent_views.event_line("en", retyped)
    rated = TicketEvent(ticket_id=1, kind="rating", actor_kind="customer", data={"rating": 4}, at=at)
    assert "оценка 4/5" in agent_views.event_line("ru", rated)
    future = TicketEvent(ticket_id=1, kind="teleported<b>", actor_kind="system", at=at)
    assert "teleported&lt;b&gt;" in agent_views.event_line("en", future)  # a newer version's kind: its code, escaped

"""The follow-up sweeps (scheduler.followup_sweeps): reminders, auto-resolve, auto-close, SLA watch,
progress, surveys.

Time is simulated: the hooks and the sweeps take `now`, so a day passes in a line. Each sweep is run
twice at every step to prove it acts once; PostgreSQL variants run two sweepers at once.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.sql import visitors
from sqlalchemy.sql.elements import BindParameter
from sqlmodel import col, select

from helpdesk import cards, due_times
from helpdesk.clock import now_utc
from helpdesk.vocabulary import Priority, State, TicketType
from scheduler.followup_sweeps import FollowupSweeps, sla_horizon
from storage.db import Database
from storage.models import Customer, Ticket
from storage.outbox_rows import bell
from tests.unit import desk
from tests.unit.desk import STAFF, minutes

H = timedelta(hours=1)
ANN = 501


@pytest.fixture(autouse=True)
def _fresh_bell() -> None:
    bell.reset()


@pytest.fixture
async def db(sqlite_database_url: str) -> AsyncIterator[Database]:
    database = await desk.migrated(sqlite_database_url)
    yield database
    await database.dispose()


@pytest.fixture
async def any_db(database_url: str) -> AsyncIterator[Database]:
    database = await desk.migrated(database_url)
    yield database
    await database.dispose()


POLICY = desk.HOURLY


async def twice(jobs: FollowupSweeps, now: datetime) -> dict[str, int]:
    """Run all sweeps twice at the same moment: the second pass must find nothing to do."""
    first = await jobs.run(now)
    again = await jobs.run(now)
    assert not any(again.values()), f"a second pass at the same time acted again: {again}"
    return first


async def customer_texts(db: Database) -> list[str]:
    return desk.texts(await desk.rows(db, ANN))


# -- info requests ---------------------------------------------------------------------------------------


async def test_reminders_then_auto_resolve(db: Database) -> None:
    jobs = FollowupSweeps(db, POLICY)
    tid = await desk.new_ticket(db, POLICY, ANN, assignee=(7001, "Agent1"))
    t0 = now_utc()
    await desk.ask(db, POLICY, tid, "Which version of the app do you use?", t0)
    await desk.mark_sent(db)

    assert not any((await twice(jobs, t0 + H - timedelta(seconds=1))).values())
    assert (await twice(jobs, t0 + H))["reminders"] == 1
    first = (await desk.rows(db, ANN))[-1]
    assert "waiting for your answer" in first.payload["text"]
    assert "Which version of the app do you use?" in first.payload["text"]
    assert first.payload["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == f"an:{tid}"
    assert first.link_kind == "to_customer" and first.ticket_id == tid

    assert (await twice(jobs, t0 + 3 * H))["reminders"] == 1  # the second one, 2 h after the first
    second = (await desk.rows(db, ANN))[-1]
    assert "second reminder" in second.payload["text"] and "in 2 h" in second.payload["text"]
    assert (await desk.ticket(db, tid)).reminder_due_at is None  # two reminders at most

    done = await twice(jobs, t0 + 5 * H)
    assert done["waiting_timeouts"] == 1 and done["reminders"] == 0
    resolved = await desk.ticket(db, tid)
    assert resolved.state == "resolved" and resolved.resolution_report.startswith("Resolved automatically")
    assert resolved.auto_close_due_at == t0 + 5 * H + POLICY.resolved_auto_close_after
    notice = (await desk.rows(db, ANN))[-1]
    assert "marked it as resolved" in notice.payload["text"]
    assert [b["callback_data"] for b in notice.payload["reply_markup"]["inline_keyboard"][0]] == [
        f"fx:{tid}:y",
        f"fx:{tid}:n",
    ]
    card_edit = (await desk.rows(db, STAFF, method="editMessageText"))[-1]
    assert card_edit.edits_card and "no answer from the customer" in card_edit.payload["text"]
    states = [(e.from_state, e.to_state, e.actor_kind) for e in await desk.events(db, tid, "state")]
    assert states[-1] == ("waiting_customer", "resolved", "system")
    assert [e.data["n"] for e in await desk.events(db, tid, "reminder")] == [1, 2]
    assert len(await customer_texts(db)) == 3


async def test_the_answer_stops_the_clock(db: Database) -> None:
    jobs = FollowupSweeps(db, POLICY)
    tid = await desk.new_ticket(db, POLICY, ANN)
    t0 = now_utc()
    await desk.ask(db, POLICY, tid, "Screenshot, please?", t0)
    await desk.answer(db, POLICY, tid, t0 + minutes(30))
    done = await twice(jobs, t0 + 10 * H)
    assert done["reminders"] == done["waiting_timeouts"] == 0
    assert (await desk.ticket(db, tid)).state == "in_progress"
    assert await customer_texts(db) == []


async def test_everything_due_during_downtime_runs_once_and_only_the_last_step(db: Database) -> None:
    jobs = FollowupSweeps(db, POLICY)
    tid = await desk.new_ticket(db, POLICY, ANN)
    t0 = now_utc()
    await desk.ask(db, POLICY, tid, "Which printer?", t0)
    done = await twice(jobs, t0 + 6 * H)  # the bot was down for six hours
    assert done["waiting_timeouts"] == 1 and done["reminders"] == 0
    texts = await customer_texts(db)
    assert len(texts) == 1 and "marked it as resolved" in texts[0]


async def test_a_new_question_restarts_reminders(db: Database) -> None:
    jobs = FollowupSweeps(db, POLICY)
    tid = await desk.new_ticket(db, POLICY, ANN)
    t0 = now_utc()
    await desk.ask(db, POLICY, tid, "First question?", t0)
    assert (await twice(jobs, t0 + H))["reminders"] == 1
    await desk.ask(db, POLICY, tid, "Another question?", t0 + 2 * H)
    assert (await twice(jobs, t0 + 3 * H))["reminders"] == 1
    last = (await desk.rows(db, ANN))[-1].payload["text"]
    assert "Another question?" in last and "second reminder" not in last
    done = await twice(jobs, t0 + 5 * H)  # counted from the new question: 5 h after it, not after the first
    assert done["reminders"] == 1 and done["waiting_timeouts"] == 0
    assert (await twice(jobs, t0 + 7 * H))["waiting_timeouts"] == 1


# -- resolved tickets ------------------------------------------------------------------------------------


async def test_resolved_warning_then_close_then_survey(db: Database) -> None:
    jobs = FollowupSweeps(db, POLICY)
    tid = await desk.new_ticket(db, POLICY, ANN, assignee=(7001, "Agent1"))
    t0 = now_utc()
    await desk.set_state(db, POLICY, tid, State.RESOLVED, t0)
    assert not any((await twice(jobs, t0 + 2 * H - timedelta(seconds=1))).values())
    assert (await twice(jobs, t0 + 2 * H))["closing"] == 1
    warning = (await desk.rows(db, ANN))[-1]
    assert "will be closed in 1 h" in warning.payload["text"]
    assert [b["callback_data"] for b in warning.payload["reply_markup"]["inline_keyboard"][0]] == [
        f"fx:{tid}:y",
        f"fx:{tid}:n",
    ]
    assert (await desk.ticket(db, tid)).close_warning_sent
    done = await twice(jobs, t0 + 3 * H)
    assert done["closing"] == 1 and done["surveys"] == 1
    closed = await desk.ticket(db, tid)
    assert closed.state == "closed" and closed.closed_at == t0 + 3 * H and closed.survey_due_at is None
    notice, survey_row = (await desk.rows(db, ANN))[-2:]
    assert "is closed" in notice.payload["text"]
    assert "How satisfied" in survey_row.payload["text"]
    assert [b["callback_data"] for b in survey_row.payload["reply_markup"]["inline_keyboard"][0]] == [
        f"rt:{tid}:{n}" for n in range(1, 6)
    ]
    assert not any((await twice(jobs, t0 + 30 * H)).values())
    assert len(await customer_texts(db)) == 3


async def test_reopened_before_the_close_stays_open(db: Database) -> None:
    jobs = FollowupSweeps(db, POLICY)
    tid = await desk.new_ticket(db, POLICY, ANN)
    t0 = now_utc()
    await desk.set_state(db, POLICY, tid, State.RESOLVED, t0)
    await twice(jobs, t0 + 2 * H)
    await desk.set_state(db, POLICY, tid, State.IN_PROGRESS, t0 + 2 * H + minutes(1))  # "still a problem"
    assert (await twice(jobs, t0 + 4 * H))["closing"] == 0
    assert (await desk.ticket(db, tid)).state == "in_progress"


async def test_close_due_during_downtime_closes_without_a_late_warning(db: Database) -> None:
    jobs = FollowupSweeps(db, POLICY)
    tid = await desk.new_ticket(db, POLICY, ANN)
    t0 = now_utc()
    await desk.set_state(db, POLICY, tid, State.RESOLVED, t0)
    assert (await twice(jobs, t0 + 9 * H))["closing"] == 1
    texts = await customer_texts(db)
    assert [("is closed" in x, "How satisfied" in x) for x in texts] == [(True, False), (False, True)]


async def test_no_close_warning_when_it_would_come_with_the_resolution(db: Database) -> None:
    policy = desk.policy(resolved_auto_close_after=H, resolved_close_warning_before=2 * H, survey_after=timedelta(0))
    jobs = FollowupSweeps(db, policy)
    tid = await desk.new_ticket(db, policy, ANN)
    t0 = now_utc()
    await desk.set_state(db, policy, tid, State.RESOLVED, t0)
    assert (await twice(jobs, t0 + minutes(1)))["closing"] == 0  # the resolution notice already said it
    assert (await twice(jobs, t0 + H))["closing"] == 1
    assert [kind_of(x) for x in await customer_texts(db)] == ["closed", "survey"]


# -- SLA watch -------------------------------------------------------------------------------------------


async def staff_texts(db: Database) -> list[str]:
    return [r.payload["text"] for r in await desk.rows(db, STAFF, method="sendMessage") if r.link_kind != "card"]


async def sla_texts(db: Database) -> list[str]:
    return [x for x in await staff_texts(db) if "target" in x]


async def test_sla_warning_and_breach_once_each(any_db: Database) -> None:
    db = any_db
    jobs = FollowupSweeps(db, POLICY)
    t0 = now_utc()
    tid = await desk.new_ticket(db, POLICY, ANN, priority="P1", assignee=(7001, "Agent <One>"), created_at=t0)
    await desk.mark_sent(db)
    assert (await twice(jobs, t0 + minutes(11)))["sla"] == 0  # 73 % of 15 min
    assert (await twice(jobs, t0 + minutes(12)))["sla"] == 1  # 80 %
    (warning,) = await sla_texts(db)
    assert "first response is due" in warning and "80% of the 15 min target" in warning
    assert '<a href="tg://user?id=7001">Agent &lt;One&gt;</a>' in warning
    reply = (await desk.rows(db, STAFF, method="sendMessage"))[-1]
    assert reply.reply_to_card and reply.ticket_id == tid
    card = (await desk.rows(db, STAFF, method="editMessageText"))[-1]
    assert "SLA: first response due" in card.payload["text"]
    assert (await twice(jobs, t0 + minutes(14)))["sla"] == 0
    assert (await twice(jobs, t0 + minutes(15)))["sla"] == 1
    assert "first-response target (15 min) is missed" in (await sla_texts(db))[-1]
    # resolution: 4 h target, warning at 3 h 12 min, breach at 4 h; the first response stays breached
    assert (await twice(jobs, t0 + 3 * H + minutes(11)))["sla"] == 0
    assert (await twice(jobs, t0 + 3 * H + minutes(12)))["sla"] == 1
    assert (await twice(jobs, t0 + 4 * H))["sla"] == 1
    assert "resolution target (4 h) is missed" in (await sla_texts(db))[-1]
    assert (await twice(jobs, t0 + 40 * H))["sla"] == 0
    kinds = [(e.kind, e.data["clock"]) for e in await desk.events(db, tid) if e.kind.startswith("sla_")]
    assert kinds == [
        ("sla_warning", "first_response"),
        ("sla_breach", "first_response"),
        ("sla_warning", "resolution"),
        ("sla_breach", "resolution"),
    ]
    assert len([x for x in await sla_texts(db) if "target" in x]) == 4


async def test_sla_notes_stay_on_the_card_until_the_clock_is_met(db: Database) -> None:
    """A later edit of the card (assignee, priority...) keeps the overdue line; meeting the clock removes it."""
    jobs = FollowupSweeps(db, POLICY)
    t0 = now_utc()
    tid = await desk.new_ticket(db, POLICY, ANN, priority="P1", created_at=t0)
    assert (await twice(jobs, t0 + minutes(16)))["sla"] == 1

    async def refreshed_card() -> str:
        async with db.session() as session:
            await cards.refresh_card(session, await session.get(Ticket, tid), POLICY)
        return (await desk.rows(db, STAFF, method="editMessageText"))[-1].payload["text"]

    assert "SLA: first response overdue" in await refreshed_card()
    await desk.change(db, tid, first_response_at=t0 + minutes(20), state="in_progress")
    card = await refreshed_card()
    assert "overdue" not in card and "⚠️" not in card
    await desk.change(db, tid, sla_flags={"first_response_breach": "x", "resolution_warning": "x"})
    assert "SLA: resolution due" in await refreshed_card()
    await desk.change(db, tid, state="resolved", resolved_at=t0 + H)
    card = await refreshed_card()
    assert "overdue" not in card and "resolution due" not in card


async def test_sla_missed_while_down_is_one_breach_message(db: Database) -> None:
    jobs = FollowupSweeps(db, POLICY)
    t0 = now_utc()
    await desk.new_ticket(db, POLICY, ANN, priority="P1", created_at=t0)
    assert (await twice(jobs, t0 + minutes(20)))["sla"] == 1
    (only,) = await sla_texts(db)
    assert "is missed" in only and "Nobody has taken it yet" in only


async def test_sla_clock_pauses_while_waiting(db: Database) -> None:
    jobs = FollowupSweeps(db, POLICY)
    t0 = now_utc()
    tid = await desk.new_ticket(db, POLICY, ANN, priority="P1", created_at=t0)
    await desk.ask(db, POLICY, tid, "Is it all users?", t0 + minutes(5))  # first response given
    assert (await twice(jobs, t0 + 5 * H))["sla"] == 0  # waiting: the 4 h resolution clock stands still
    await desk.answer(db, POLICY, tid, t0 + 5 * H)
    assert (await desk.ticket(db, tid)).resolution_due == t0 + 4 * H + (5 * H - minutes(5))
    assert (await twice(jobs, t0 + 5 * H + minutes(5)))["sla"] == 0
    assert (await twice(jobs, t0 + 8 * H + minutes(7)))["sla"] == 1  # 80 % of 4 h after the pause
    assert "resolution is due" in (await sla_texts(db))[-1]


async def test_sla_with_business_hours(db: Database) -> None:
    berlin = ZoneInfo("Europe/Berlin")
    policy = desk.policy(business_hours="Mon-Fri 09:00-18:00", timezone="Europe/Berlin")
    jobs = FollowupSweeps(db, policy)
    friday = datetime(2026, 1, 9, 17, 0, tzinfo=berlin)
    tid = await desk.new_ticket(db, policy, ANN, priority="P3", created_at=friday)  # 4 h first response
    assert (await desk.ticket(db, tid)).first_response_due == datetime(2026, 1, 12, 12, 0, tzinfo=berlin)
    assert (await twice(jobs, datetime(2026, 1, 10, 12, 0, tzinfo=berlin)))["sla"] == 0  # Saturday
    assert (await twice(jobs, datetime(2026, 1, 12, 11, 11, tzinfo=berlin)))["sla"] == 0
    assert (await twice(jobs, datetime(2026, 1, 12, 11, 12, tzinfo=berlin)))["sla"] == 1  # 3 h 12 of 4 h worked
    assert "48 min left" in (await sla_texts(db))[-1]


async def test_sla_sql_filter_agrees_with_the_rule(any_db: Database) -> None:
    """The SQL horizon filter selects exactly the tickets the per-ticket rule would announce."""
    db = any_db
    rnd = random.Random(7)
    policy = desk.policy(business_hours="Mon-Fri 09:00-18:00", timezone="Europe/Berlin")
    jobs = FollowupSweeps(db, policy)
    now = datetime(2026, 1, 13, 11, 0, tzinfo=UTC)
    ids = []
    for n in range(40):
        created = now - timedelta(minutes=rnd.randint(0, 6000))
        kind = rnd.choice([TicketType.INCIDENT, TicketType.SERVICE_REQUEST])
        tid = await desk.new_ticket(db, policy, 600 + n, priority=rnd.choice("1234").join(["P", ""]), ticket_type=kind,
                                   created_at=created)  # fmt: skip
        flags = rnd.choice([{}, {"first_response_warning": "x"}, {"resolution_warning": "x"},
                            {"first_response_warning": "x", "first_response_breach": "x"}])  # fmt: skip
        await desk.change(db, tid, sla_flags={"_target": "x", **flags})
        ids.append(tid)
    async with db.read() as session:
        stmt = select(Ticket.id).where(*jobs._sla_where())
        selected = set((await session.exec(stmt, params={"now": now, **jobs._sla_horizons(now)})).all())
        tickets = (await session.exec(select(Ticket))).all()
    expected = set()
    for ticket in tickets:
        target = policy.sla.target(TicketType(ticket.ticket_type), Priority(ticket.priority))
        for clock, due, length in (
            ("first_response", ticket.first_response_due, target.first_response),
            ("resolution", ticket.resolution_due, target.resolution),
        ):
            flags = ticket.sla_flags
            if f"{clock}_breach" in flags:
                continue
            if now >= due or (f"{clock}_warning" not in flags and policy.calendar.between(now, due) <= length * 0.2):
                expected.add(ticket.id)
    assert selected == expected and 0 < len(selected) < len(ids)


async def test_each_sla_horizon_is_bound_by_its_cell_and_clock(db: Database) -> None:
    """The SLA watch's statement names each horizon by its (type, priority, clock), and `_sla_horizons` gives
    each the warning point of that very cell's target: not a pairing by order that a reordering would shift."""
    policy = desk.policy(sla_incident_p1="10m/2h", sla_request_p4="3d/9d", sla_warning_ratio=0.75)
    jobs = FollowupSweeps(db, policy)
    now = datetime(2026, 1, 13, 11, 0, tzinfo=UTC)
    horizons = jobs._sla_horizons(now)
    page, claim = jobs._statements["sla"]
    for statement in (page, claim):
        named = {e.key for e in visitors.iterate(statement) if isinstance(e, BindParameter) and not e.unique}
        assert named - {"now", "seen", "ticket_id"} == set(horizons)  # each named; none left unfilled
    assert len(horizons) == 2 * len(policy.sla.targets)
    for (ticket_type, priority), target in policy.sla.targets.items():
        for clock in ("first_response", "resolution"):
            length = getattr(target, clock)
            assert horizons[sla_horizon(ticket_type, priority, clock)] == now + length * 0.25
    assert horizons[sla_horizon(TicketType.INCIDENT, Priority.P1, "first_response")] == now + minutes(10) * 0.25
    assert (
        horizons[sla_horizon(TicketType.SERVICE_REQUEST, Priority.P4, "resolution")] == now + timedelta(days=9) * 0.25
    )


# -- progress updates ------------------------------------------------------------------------------------


async def test_progress_prompt_then_customer_update(db: Database) -> None:
    policy = desk.policy(progress_update_p1=H, sla_warning_ratio=0.99)
    jobs = FollowupSweeps(db, policy)
    t0 = now_utc()
    tid = await desk.new_ticket(db, policy, ANN, priority="P1", assignee=(7002, "Bob"), created_at=t0)
    await desk.change(db, tid, sla_flags={"first_response_breach": "x", "resolution_breach": "x"})
    assert (await twice(jobs, t0 + minutes(59)))["progress"] == 0
    assert (await twice(jobs, t0 + H))["progress"] == 1
    prompt = (await staff_texts(db))[-1]
    assert "no update for 1 h" in prompt and 'href="tg://user?id=7002"' in prompt
    assert await customer_texts(db) == []
    assert (await twice(jobs, t0 + 2 * H))["progress"] == 1
    (update,) = await customer_texts(db)
    assert "still working on it" in update
    ticket = await desk.ticket(db, tid)
    assert ticket.last_public_update_at == t0 + 2 * H and ticket.progress_stage == 0
    assert (await twice(jobs, t0 + 3 * H))["progress"] == 1  # staff prompted again
    assert len(await staff_texts(db)) == 2


async def test_a_public_update_resets_the_progress_clock(db: Database) -> None:
    jobs = FollowupSweeps(db, desk.policy(progress_update_p2=4 * H, sla_warning_ratio=0.99))
    t0 = now_utc()
    tid = await desk.new_ticket(db, POLICY, ANN, priority="P2", created_at=t0)
    await desk.change(db, tid, sla_flags={"first_response_breach": "x", "resolution_breach": "x"})
    await twice(jobs, t0 + 4 * H)  # prompt
    async with db.session() as session:
        ticket = await session.get(Ticket, tid)
        due_times.on_public_update(ticket, POLICY, t0 + 5 * H)  # an agent replied
        session.add(ticket)
    assert (await twice(jobs, t0 + 8 * H + minutes(59)))["progress"] == 0
    assert await customer_texts(db) == []


async def test_no_progress_updates_for_p3_or_requests(db: Database) -> None:
    jobs = FollowupSweeps(db, POLICY)
    t0 = now_utc()
    await desk.new_ticket(db, POLICY, ANN, priority="P3", created_at=t0)
    await desk.new_ticket(db, POLICY, 502, priority="P1", ticket_type=TicketType.SERVICE_REQUEST, created_at=t0)
    assert (await jobs.run(t0 + 30 * H))["progress"] == 0


# -- unreachable customers -------------------------------------------------------------------------------


async def test_unreachable_customers_get_nothing_queued(db: Database) -> None:
    jobs = FollowupSweeps(db, POLICY)
    t0 = now_utc()
    waiting = await desk.new_ticket(db, POLICY, ANN)
    await desk.ask(db, POLICY, waiting, "Which floor?", t0)
    async with db.session() as session:
        customer = (await session.exec(select(Customer).where(Customer.telegram_id == ANN))).one()
        customer.unreachable_since = t0
        session.add(customer)
    await twice(jobs, t0 + H)
    await twice(jobs, t0 + 3 * H)
    await twice(jobs, t0 + 5 * H)  # auto-resolved, silently
    await twice(jobs, t0 + 8 * H)  # closed, no survey
    assert await customer_texts(db) == []
    ticket = await desk.ticket(db, waiting)
    assert ticket.state == "closed"
    assert [e.data["delivered"] for e in await desk.events(db, waiting, "reminder")] == [False, False]


# -- two processes ---------------------------------------------------------------------------------------


def kind_of(text: str) -> str:
    for marker, kind in (("second reminder", "reminder2"), ("waiting for your answer", "reminder1"),
                         ("marked it as resolved", "auto_resolved"), ("will be closed", "warning"),
                         ("is closed", "closed"), ("How satisfied", "survey")):  # fmt: skip
        if marker in text:
            return kind
    return text


async def test_two_sweepers_at_once_act_once(database_url: str) -> None:
    """Two processes (two engines) sweep the same due tickets concurrently: every follow-up once."""
    first, second = await desk.migrated(database_url), await desk.migrated(database_url)
    try:
        t0 = now_utc()
        for n in range(10):
            tid = await desk.new_ticket(first, POLICY, 700 + n, priority="P1", created_at=t0)
            await desk.ask(first, POLICY, tid, f"Question {n}?", t0 + minutes(1))
            tid = await desk.new_ticket(first, POLICY, 800 + n, created_at=t0)
            await desk.set_state(first, POLICY, tid, State.RESOLVED, t0)
        a, b = FollowupSweeps(first, POLICY, batch=4), FollowupSweeps(second, POLICY, batch=4)
        for after in (
            minutes(61),
            2 * H,
            3 * H + minutes(2),
            5 * H + minutes(2),
            7 * H + minutes(2),
            8 * H + minutes(2),
        ):
            await asyncio.gather(a.run(t0 + after), b.run(t0 + after), a.run(t0 + after), b.run(t0 + after))
        for n in range(10):
            waited = [kind_of(x) for x in desk.texts(await desk.rows(first, 700 + n))]
            assert waited == ["reminder1", "reminder2", "auto_resolved", "warning", "closed", "survey"], waited
            resolved = [kind_of(x) for x in desk.texts(await desk.rows(first, 800 + n))]
            assert resolved == ["warning", "closed", "survey"], resolved
    finally:
        await first.dispose()
        await second.dispose()


async def test_a_ticket_another_process_acted_on_after_this_one_listed_it_is_claimed_fresh(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Between a sweep's page of due ids and its claim of one, another process reminds the customer and
    commits: the claim re-reads the row and re-checks the condition, so the reminder is not sent twice."""
    first, second = await desk.migrated(database_url), await desk.migrated(database_url)
    try:
        t0 = now_utc()
        tid = await desk.new_ticket(first, POLICY, ANN, created_at=t0)
        await desk.ask(first, POLICY, tid, "Which room?", t0)
        a, b = FollowupSweeps(first, POLICY), FollowupSweeps(second, POLICY)
        claim = first.session
        other_went = []

        def session_after_the_other():  # type: ignore[no-untyped-def]
            async def went() -> None:
                if not other_went:  # the page is read; before the claim, the other process acts
                    other_went.append(await b.reminders(t0 + H))

            return _after(went, claim)

        monkeypatch.setattr(first, "session", session_after_the_other)
        assert await a.reminders(t0 + H) == 0
        assert other_went == [1]
        reminders = [x for x in desk.texts(await desk.rows(first, ANN)) if kind_of(x) == "reminder1"]
        assert len(reminders) == 1
        assert (await desk.ticket(first, tid)).reminders_sent == 1
    finally:
        await first.dispose()
        await second.dispose()


@asynccontextmanager
async def _after(first: Callable[[], Awaitable[None]], session: Callable[[], Any]) -> AsyncIterator[Any]:
    await first()
    async with session() as opened:
        yield opened


# -- poison and jobs -------------------------------------------------------------------------------------


async def test_a_failing_ticket_does_not_block_the_others(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    jobs = FollowupSweeps(db, POLICY)
    t0 = now_utc()
    bad = await desk.new_ticket(db, POLICY, ANN)
    good = await desk.new_ticket(db, POLICY, 502)
    for tid in (bad, good):
        await desk.ask(db, POLICY, tid, "Which room?", t0)
    original = jobs._remind

    async def remind(session, ticket, now):  # type: ignore[no-untyped-def]
        if ticket.id == bad:
            raise RuntimeError("boom")
        return await original(session, ticket, now)

    monkeypatch.setattr(jobs, "_remind", remind)
    assert (await jobs.run(t0 + H))["reminders"] == 1
    assert (await desk.ticket(db, bad)).reminders_sent == 0  # rolled back, retried later
    assert (await desk.ticket(db, good)).reminders_sent == 1
    assert jobs._backing_off("reminders", bad)
    monkeypatch.setattr(jobs, "_remind", original)
    jobs._failing.clear()
    assert (await jobs.run(t0 + H))["reminders"] == 1
    assert (await desk.ticket(db, bad)).reminders_sent == 1


async def test_poison_tickets_do_not_starve_the_rest(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    jobs = FollowupSweeps(db, POLICY, batch=2)
    t0 = now_utc()
    ids = []
    for n in range(5):
        tid = await desk.new_ticket(db, POLICY, 900 + n)
        await desk.ask(db, POLICY, tid, "Which room?", t0)
        ids.append(tid)
    bad = set(ids[:3])  # more than a page
    original = jobs._remind

    async def remind(session, ticket, now):  # type: ignore[no-untyped-def]
        if ticket.id in bad:
            raise RuntimeError("boom")
        return await original(session, ticket, now)

    monkeypatch.setattr(jobs, "_remind", remind)
    assert (await jobs.run(t0 + H))["reminders"] == 2
    assert (await jobs.run(t0 + H))["reminders"] == 0  # the bad ones wait for their retry, quietly


@pytest.mark.postgres
async def test_tickets_another_process_holds_are_skipped_not_waited_for(postgres_database_url: str) -> None:
    db = await desk.migrated(postgres_database_url)
    other = Database(postgres_database_url)
    try:
        jobs = FollowupSweeps(db, POLICY, batch=2)
        t0 = now_utc()
        ids = []
        for n in range(5):
            tid = await desk.new_ticket(db, POLICY, 950 + n)
            await desk.ask(db, POLICY, tid, "Which room?", t0)
            ids.append(tid)
        async with other.session() as session:  # another process is in the middle of these three
            held = (await session.exec(select(Ticket).where(col(Ticket.id).in_(ids[:3])).with_for_update())).all()
            assert len(held) == 3
            done = await asyncio.wait_for(jobs.run(t0 + H), timeout=10)
            assert done["reminders"] == 2
        assert (await jobs.run(t0 + H))["reminders"] == 3  # released: now they are ours
    finally:
        await other.dispose()
        await db.dispose()
